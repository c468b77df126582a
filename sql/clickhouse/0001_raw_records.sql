-- Raw records: one row per record the pipeline emits (ARCHITECTURE §3 ledger entries, level-ups,
-- achievement unlocks, rejections). Every table is partitioned by the month of stream_time (the
-- JetStream timestamp) and the sink never lets one INSERT span two partitions, so an insert is
-- one atomic part and max(seq) per table is an exact watermark.
-- ClickHouse DDL is not transactional: every statement here must be safe to run twice.
-- non_replicated_deduplication_window: a retried INSERT carrying the same
-- insert_deduplication_token is dropped, in this table and in the rollups fed from it.

-- Every ledger entry with its full explanation. The ledger API reads a user's entries by
-- (user_id, seq), which is the sorting key; exact decimals are kept as the engine wrote them.
CREATE TABLE IF NOT EXISTS awards
(
    seq                UInt64,
    event_id           String,
    user_id            String,
    agent_name         LowCardinality(String),
    action_type        LowCardinality(String),
    base_points        UInt32,
    multiplier_names   Array(LowCardinality(String)),
    multiplier_factors Array(LowCardinality(String)),
    streak_days        UInt32,
    streak_multiplier  LowCardinality(String),
    total_multiplier   LowCardinality(String),
    applied_multiplier LowCardinality(String),
    xp                 UInt32,
    bonus_achievements Array(LowCardinality(String)),
    bonus_xp           Array(UInt32),
    total_awarded      UInt32,
    total_xp_after     UInt64,
    level_before       UInt8,
    level_after        UInt8,
    rules_version      LowCardinality(String),
    event_time         DateTime64(3, 'UTC'),
    stream_time        DateTime64(3, 'UTC'),
    INDEX stream_time_minmax stream_time TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(stream_time)
ORDER BY (user_id, seq)
SETTINGS non_replicated_deduplication_window = 1000;

-- A user's level changed (from < to; several levels may be crossed at once).
CREATE TABLE IF NOT EXISTS level_ups
(
    seq         UInt64,
    user_id     String,
    from_level  UInt8,
    to_level    UInt8,
    stream_time DateTime64(3, 'UTC'),
    INDEX stream_time_minmax stream_time TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(stream_time)
ORDER BY (user_id, seq)
SETTINGS non_replicated_deduplication_window = 1000;

-- An achievement unlocked (one event can unlock several: same seq, different achievement).
CREATE TABLE IF NOT EXISTS achievements
(
    seq         UInt64,
    user_id     String,
    achievement LowCardinality(String),
    bonus       UInt32,
    stream_time DateTime64(3, 'UTC'),
    INDEX stream_time_minmax stream_time TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(stream_time)
ORDER BY (user_id, seq, achievement)
SETTINGS non_replicated_deduplication_window = 1000;

-- An event that was not applied (DLQ'd): why, and its event_id when it could be read.
CREATE TABLE IF NOT EXISTS rejections
(
    seq         UInt64,
    reason      LowCardinality(String),
    message     String,
    event_id    Nullable(String),
    stream_time DateTime64(3, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(stream_time)
ORDER BY seq
SETTINGS non_replicated_deduplication_window = 1000;

-- Written last in every flush: everything with seq <= through_seq is in the tables above. It
-- carries the watermark across seqs that produced no record (duplicates) and across a crash
-- between two tables' inserts.
CREATE TABLE IF NOT EXISTS sink_progress
(
    through_seq UInt64,
    records     UInt32,
    written_at  DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY through_seq;
