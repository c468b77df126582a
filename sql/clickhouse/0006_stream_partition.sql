-- Partitioned mode (ARCHITECTURE §9, docs/scaling.md "ClickHouse in partitioned mode"): several
-- processors write one shared ClickHouse server, each the rows of the stream partitions it owns.
-- Every row a partition's owner writes carries its partition (`stream_partition`, 0..P-1), and so
-- does its progress row: the exactly-once watermarks (max seq per kind, max through_seq) are read
-- per partition and projection. The single process writes no partition: its rows are -1 (the
-- whole stream), and its watermarks, read without this column, are unchanged.
-- ClickHouse DDL is not transactional: every statement here must be safe to run twice.

ALTER TABLE awards        ADD COLUMN IF NOT EXISTS stream_partition Int32 DEFAULT -1;
ALTER TABLE corrections   ADD COLUMN IF NOT EXISTS stream_partition Int32 DEFAULT -1;
ALTER TABLE level_ups     ADD COLUMN IF NOT EXISTS stream_partition Int32 DEFAULT -1;
ALTER TABLE achievements  ADD COLUMN IF NOT EXISTS stream_partition Int32 DEFAULT -1;
ALTER TABLE rejections    ADD COLUMN IF NOT EXISTS stream_partition Int32 DEFAULT -1;
ALTER TABLE sink_progress ADD COLUMN IF NOT EXISTS stream_partition Int32 DEFAULT -1;

-- The partition's writers (the fence inside ClickHouse): an owner records itself here after its
-- Postgres claim and before it reads the partition's watermarks, and every row it inserts, progress
-- rows included, goes in only while it is the partition's latest writer, ordered as the Postgres
-- fence orders claims: the lease stream's creation (ns) first, then the lease token. A deposed
-- owner's insert that arrives later inserts nothing (INSERT … SELECT … FROM input(…) WHERE …).
CREATE TABLE IF NOT EXISTS partition_writers
(
    stream_partition Int32,
    lease_stream_ns  Int64,
    token            UInt64,
    writer           String,
    claimed_at       DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (stream_partition, lease_stream_ns, token);
