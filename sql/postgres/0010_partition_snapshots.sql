-- Partitioned mode (ARCHITECTURE §9): each partition's snapshot, committed under its fence
-- (arena_partition_checkpoint.epoch, 0007) in the transaction that moves the partition's seq.
-- The checkpoint row gains what arena_checkpoint holds for the single process; chunks and closed
-- periods' archives are kept per partition (an archive holds the partition's users of the board).
-- Single-process mode does not use these tables.
ALTER TABLE arena_partition_checkpoint
  ADD COLUMN stream         text,
  ADD COLUMN stream_created text,
  ADD COLUMN rules_version  text,
  ADD COLUMN users          bigint NOT NULL DEFAULT 0,
  ADD COLUMN base_bytes     bigint NOT NULL DEFAULT 0,
  ADD COLUMN delta_bytes    bigint NOT NULL DEFAULT 0;

CREATE TABLE arena_partition_chunk (
  id        bigserial PRIMARY KEY,
  partition smallint  NOT NULL,
  cut_seq   bigint    NOT NULL,
  base      boolean   NOT NULL,
  users     integer   NOT NULL,
  data      bytea     NOT NULL
);
CREATE INDEX arena_partition_chunk_by_partition ON arena_partition_chunk (partition, id);
ALTER TABLE arena_partition_chunk ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TABLE arena_partition_period_archive (
  partition   smallint NOT NULL,
  board       text     NOT NULL,
  win         text     NOT NULL,
  period      text     NOT NULL,
  rank        integer  NOT NULL,
  user_id     text     NOT NULL,
  username    text     NOT NULL,
  xp          bigint   NOT NULL,
  reached_seq bigint   NOT NULL,
  level       integer  NOT NULL,
  PRIMARY KEY (partition, board, win, period, rank)
);

CREATE TABLE arena_partition_period_closed (
  partition     smallint NOT NULL,
  board         text     NOT NULL,
  win           text     NOT NULL,
  period        text     NOT NULL,
  entries       integer  NOT NULL,
  closed_at_seq bigint   NOT NULL,
  PRIMARY KEY (partition, board, win, period)
);
