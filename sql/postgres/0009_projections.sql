-- Projections (ARCHITECTURE §10 "Re-projection"). A projection is one scoring of the whole stream:
-- its rules history, its snapshot, its boards and its ClickHouse rows. Projection 0 is the one
-- every database starts with; `arena rules apply --retroactive` builds projection N+1 in shadow
-- tables while N stays in force, then switches in ONE transaction (src/adapters/postgres/
-- ProjectionStore.ts): arena_projection.current, the snapshot tables and the re-projection's state
-- change together, so a crash at any moment leaves exactly one projection in force.
CREATE TABLE arena_projection (
  id          smallint    PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  current     integer     NOT NULL CHECK (current >= 0),
  switched_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO arena_projection (id, current) VALUES (1, 0);

-- Each history row belongs to one projection (the rows before this migration: projection 0);
-- only the current projection's rows score events. source: what recorded it — a start with a new
-- ARENA_RULES file, `arena rules apply` (from head + 1) or a retroactive apply (from seq 1).
ALTER TABLE arena_rules_history ADD COLUMN projection integer NOT NULL DEFAULT 0;
ALTER TABLE arena_rules_history ADD COLUMN source text NOT NULL DEFAULT 'start' CHECK (source IN ('start', 'apply', 'retroactive'));

-- The snapshot's projection: a snapshot write of another projection than the current one is refused.
ALTER TABLE arena_checkpoint ADD COLUMN projection integer NOT NULL DEFAULT 0;

-- One row per retroactive apply: pending (the shadow state is being built) → built (its snapshot
-- is in the shadow tables, at built_seq) → switched (it is the current projection), or discarded
-- (a pending one found at a start, or refused at the switch). At most one is pending or built.
CREATE TABLE arena_reprojection (
  projection     integer     PRIMARY KEY CHECK (projection >= 1),
  version        text        NOT NULL REFERENCES arena_rules_version (version),
  state          text        NOT NULL CHECK (state IN ('pending', 'built', 'switched', 'discarded')),
  -- the stream's last seq when it was requested, and the seq the shadow snapshot is at
  head_seq       bigint      NOT NULL,
  built_seq      bigint,
  reason         text,
  requested_at   timestamptz NOT NULL DEFAULT now(),
  built_at       timestamptz,
  finished_at    timestamptz,
  CHECK (state = 'pending' OR state = 'discarded' OR built_seq IS NOT NULL)
);
CREATE UNIQUE INDEX arena_reprojection_open ON arena_reprojection ((true)) WHERE state IN ('pending', 'built');

-- The shadow snapshot of a pending/built projection (the same shapes as the live tables of 0001/0003).
CREATE TABLE arena_shadow_checkpoint (
  projection     integer     PRIMARY KEY REFERENCES arena_reprojection (projection) ON DELETE CASCADE,
  stream         text        NOT NULL,
  stream_created text        NOT NULL,
  seq            bigint      NOT NULL,
  stream_time_ms bigint      NOT NULL,
  rules_version  text        NOT NULL,
  users          bigint      NOT NULL,
  base_bytes     bigint      NOT NULL
);
CREATE TABLE arena_shadow_chunk (
  id         bigserial PRIMARY KEY,
  projection integer   NOT NULL REFERENCES arena_reprojection (projection) ON DELETE CASCADE,
  users      integer   NOT NULL,
  data       bytea     NOT NULL
);
CREATE INDEX arena_shadow_chunk_projection ON arena_shadow_chunk (projection, id);
CREATE TABLE arena_shadow_archive (
  projection  integer NOT NULL REFERENCES arena_reprojection (projection) ON DELETE CASCADE,
  board       text    NOT NULL,
  win         text    NOT NULL,
  period      text    NOT NULL,
  rank        integer NOT NULL,
  user_id     text    NOT NULL,
  username    text    NOT NULL,
  xp          bigint  NOT NULL,
  reached_seq bigint  NOT NULL,
  level       integer NOT NULL,
  PRIMARY KEY (projection, board, win, period, rank)
);
CREATE TABLE arena_shadow_closed (
  projection    integer NOT NULL REFERENCES arena_reprojection (projection) ON DELETE CASCADE,
  board         text    NOT NULL,
  win           text    NOT NULL,
  period        text    NOT NULL,
  entries       integer NOT NULL,
  closed_at_seq bigint  NOT NULL,
  PRIMARY KEY (projection, board, win, period)
);
