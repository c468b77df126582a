-- The rules history (ARCHITECTURE §10). Each rules version Arena has used, once, with its content
-- hash (sha256 of the validated document as compact JSON) and its full text as first given: a
-- version string names one content forever (the primary key holds that). Each start with a rules
-- file other than the one in force adds a history row: that version scores every event from
-- effective_from_seq until the next row's seq (a later row at the same seq wins: it was recorded
-- before anything was scored). Rows are never updated or deleted: a replay needs all of them.
CREATE TABLE arena_rules_version (
  version      text        PRIMARY KEY CHECK (char_length(version) BETWEEN 1 AND 64),
  content_hash text        NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
  body         text        NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE arena_rules_history (
  id                 bigserial   PRIMARY KEY,
  version            text        NOT NULL REFERENCES arena_rules_version (version),
  effective_from_seq bigint      NOT NULL CHECK (effective_from_seq >= 1),
  -- the stream's last seq when this row was decided (effective_from_seq = head_seq + 1, or 1 for the first)
  head_seq           bigint      NOT NULL,
  recorded_at        timestamptz NOT NULL DEFAULT now()
);
