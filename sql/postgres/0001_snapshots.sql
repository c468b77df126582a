-- Snapshots of the pipeline's state at a consistent cut (ARCHITECTURE §2.1): one checkpoint row,
-- one row per user, written in the same transaction; closed periods' final rankings (§3).
CREATE TABLE arena_checkpoint (
  id             smallint    PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  stream         text        NOT NULL,
  -- the stream's creation time: a snapshot of another incarnation of the stream is refused
  stream_created text        NOT NULL,
  seq            bigint      NOT NULL,
  stream_time_ms bigint      NOT NULL,
  rules_version  text        NOT NULL,
  users          bigint      NOT NULL,
  taken_at       timestamptz NOT NULL DEFAULT now()
);

-- state is the UserState JSON (text, not jsonb: written and read whole, ~2x faster at 1M rows)
CREATE TABLE arena_user_state (
  user_id text   PRIMARY KEY,
  state   text   NOT NULL,
  seq     bigint NOT NULL
);

CREATE TABLE arena_period_archive (
  board       text    NOT NULL,
  win         text    NOT NULL,
  period      text    NOT NULL,
  rank        integer NOT NULL,
  user_id     text    NOT NULL,
  username    text    NOT NULL,
  xp          bigint  NOT NULL,
  reached_seq bigint  NOT NULL,
  level       integer NOT NULL,
  PRIMARY KEY (board, win, period, rank)
);

CREATE TABLE arena_period_closed (
  board         text    NOT NULL,
  win           text    NOT NULL,
  period        text    NOT NULL,
  entries       integer NOT NULL,
  closed_at_seq bigint  NOT NULL,
  PRIMARY KEY (board, win, period)
);
