-- Erasures (ARCHITECTURE §11 "Privacy"): one durable record per DELETE /v1/users/{id}, with the
-- step to run next, so an erasure killed at any point resumes there at the next start
-- (src/actors/Erasures.ts). user_id is set to NULL once the erasure is done: the record then keeps
-- no identifier of the user; requester_hash (sha256 of "<id>:<sub>") lets whoever asked read it.
CREATE TABLE arena_erasure (
  id              text        PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{22}$'),
  user_id         text        CHECK (char_length(user_id) BETWEEN 1 AND 128),
  step            text        NOT NULL CHECK (step IN ('publish', 'apply', 'snapshot', 'postgres', 'clickhouse', 'stream', 'done')),
  erase_seq       bigint,
  -- the user's seqs in the event stream and in the dead-letter stream (recorded before the
  -- ClickHouse rows they were found through go; dropped once done)
  stream_seqs     bigint[],
  letter_seqs     bigint[],
  messages_erased integer     NOT NULL DEFAULT 0,
  requester_hash  text        NOT NULL CHECK (requester_hash ~ '^[0-9a-f]{64}$'),
  requested_at    timestamptz NOT NULL DEFAULT now(),
  completed_at    timestamptz,
  CHECK ((step = 'done') = (user_id IS NULL))
);

-- One running erasure per user: a second DELETE while one runs gets the same erasure.
CREATE UNIQUE INDEX arena_erasure_running ON arena_erasure (user_id) WHERE step <> 'done';
