-- Corrections (ARCHITECTURE §10): one row per applied correction, the ledger entry that explains
-- it. `xp` is the signed change of the user's total XP; board_keys/board_xp list every board score
-- it moved ("board|window|period", signed). Absent values are '' / 0 (agent_name, event_id,
-- event_seq, requested_by). Same exactly-once design as the raw tables of 0001: month partitions
-- of stream_time, one INSERT per month, deduplication tokens.
CREATE TABLE IF NOT EXISTS corrections
(
    seq            UInt64,
    correction_id  String,
    correction     LowCardinality(String),
    user_id        String,
    agent_name     LowCardinality(String),
    event_id       String,
    event_seq      UInt64,
    reason         String,
    requested_by   String,
    requested_xp   Int64,
    xp             Int64,
    board_keys     Array(String),
    board_xp       Array(Int64),
    total_xp_after UInt64,
    level_before   UInt8,
    level_after    UInt8,
    rules_version  LowCardinality(String),
    stream_time    DateTime64(3, 'UTC'),
    INDEX stream_time_minmax stream_time TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(stream_time)
ORDER BY (user_id, seq)
SETTINGS non_replicated_deduplication_window = 1000;

-- Per user (and agent, '' for none) per day of the correction: the signed XP corrections moved.
-- Dashboards that sum XP add it (xp_distribution, agent_popularity), so they show the lower XP.
CREATE TABLE IF NOT EXISTS correction_daily
(
    day        Date,
    user_id    String,
    agent_name LowCardinality(String),
    events     SimpleAggregateFunction(sum, UInt64),
    xp         SimpleAggregateFunction(sum, Int64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, user_id, agent_name)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS correction_daily_mv TO correction_daily AS
SELECT toDate(stream_time) AS day, user_id, agent_name, count() AS events, sum(xp) AS xp
FROM corrections GROUP BY day, user_id, agent_name;
