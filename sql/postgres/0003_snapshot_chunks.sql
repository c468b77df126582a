-- Snapshots as binary chunks of users (src/domain/state/SnapshotCodec.ts): a base holds every
-- user; each later cut appends a delta of the users changed since. Loading reads the chunks in id
-- order, later records replacing earlier ones. A new base replaces every chunk (and the pre-chunk
-- JSON rows of arena_user_state) in the transaction that moves the checkpoint.
CREATE TABLE arena_snapshot_chunk (
  id      bigserial PRIMARY KEY,
  cut_seq bigint    NOT NULL,
  base    boolean   NOT NULL,
  users   integer   NOT NULL,
  data    bytea     NOT NULL
);
-- Chunks are varint-packed already: skip pglz (slow, little gain), keep them out of line.
ALTER TABLE arena_snapshot_chunk ALTER COLUMN data SET STORAGE EXTERNAL;

ALTER TABLE arena_checkpoint
  ADD COLUMN base_bytes  bigint NOT NULL DEFAULT 0,
  ADD COLUMN delta_bytes bigint NOT NULL DEFAULT 0;
