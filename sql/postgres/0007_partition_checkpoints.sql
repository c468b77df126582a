-- Partitioned mode (ARCHITECTURE §9): one checkpoint row per partition, fenced by the owner's lease
-- token (the NATS lease revision). A new owner claims the row only with a higher token; a snapshot
-- commits only while the row still carries its token, so a paused ex-owner can never commit.
-- Single-process mode does not use this table (it keeps arena_checkpoint).
CREATE TABLE arena_partition_checkpoint (
  partition      smallint    PRIMARY KEY CHECK (partition >= 0),
  epoch          bigint      NOT NULL CHECK (epoch > 0),
  owner          text        NOT NULL,
  taken_at       timestamptz NOT NULL DEFAULT now(),
  seq            bigint      NOT NULL DEFAULT 0,
  stream_time_ms bigint      NOT NULL DEFAULT 0,
  committed_at   timestamptz
);
