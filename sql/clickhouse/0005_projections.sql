-- Projections (ARCHITECTURE §10 "Re-projection"). A projection is one scoring of the whole stream
-- (Postgres 0009_projections.sql: arena_projection.current). Every row of a table the pipeline's
-- records fill, and every rollup row, carries the projection that scored it; every read (the
-- ledger, the dashboards, the sink's watermarks) takes the current projection only. A retroactive
-- apply inserts projection N's rows (seq 1 … the shadow snapshot's seq) before N is `built`, the
-- switch makes N current, and the rows of older or discarded projections are never read again.
-- Rejections are projection rows too: whether an action is known depends on the rules.
-- Rows written before this migration are projection 0 (the projection every database starts with).
-- ClickHouse DDL is not transactional: every statement here must be safe to run twice.
-- `projection` is quoted in column definitions (unquoted there, ClickHouse reads a PROJECTION clause).

ALTER TABLE awards       ADD COLUMN IF NOT EXISTS projection UInt32 DEFAULT 0;
ALTER TABLE corrections  ADD COLUMN IF NOT EXISTS projection UInt32 DEFAULT 0;
ALTER TABLE level_ups    ADD COLUMN IF NOT EXISTS projection UInt32 DEFAULT 0;
ALTER TABLE achievements ADD COLUMN IF NOT EXISTS projection UInt32 DEFAULT 0;
ALTER TABLE rejections   ADD COLUMN IF NOT EXISTS projection UInt32 DEFAULT 0;

-- The sink's progress is per projection: projection N's watermark is where its rows end.
ALTER TABLE sink_progress ADD COLUMN IF NOT EXISTS projection UInt32 DEFAULT 0;

-- The rollups: projection joins the sorting key (Summing/AggregatingMergeTree merge rows of equal
-- key, so two projections' rows must never share one), and every view carries it through. The
-- rollups are dropped and made again (their views' SELECT changes, and a sorting key only takes
-- columns added in the same ALTER); at the next start the sink's rollup check (Rollups.ts) finds
-- every month empty and rebuilds it from the raw tables — whatever a crash in the middle of this
-- file left, the re-run ends in the same place.
DROP VIEW IF EXISTS agent_daily_mv;
DROP VIEW IF EXISTS action_daily_mv;
DROP VIEW IF EXISTS user_days_mv;
DROP VIEW IF EXISTS achievement_daily_mv;
DROP VIEW IF EXISTS level_daily_mv;
DROP VIEW IF EXISTS rejection_daily_mv;
DROP VIEW IF EXISTS pipeline_minute_awards_mv;
DROP VIEW IF EXISTS pipeline_minute_rejections_mv;
DROP VIEW IF EXISTS correction_daily_mv;
DROP TABLE IF EXISTS agent_daily;
DROP TABLE IF EXISTS action_daily;
DROP TABLE IF EXISTS user_days;
DROP TABLE IF EXISTS achievement_daily;
DROP TABLE IF EXISTS level_daily;
DROP TABLE IF EXISTS rejection_daily;
DROP TABLE IF EXISTS pipeline_minute;
DROP TABLE IF EXISTS correction_daily;

CREATE TABLE IF NOT EXISTS agent_daily
(
    day        Date,
    agent_name LowCardinality(String),
    events     SimpleAggregateFunction(sum, UInt64),
    xp_awarded SimpleAggregateFunction(sum, UInt64),
    users      AggregateFunction(uniq, String),
    `projection` UInt32
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, agent_name, projection)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS agent_daily_mv TO agent_daily AS
SELECT toDate(stream_time) AS day, agent_name, count() AS events,
       sum(toUInt64(total_awarded)) AS xp_awarded, uniqState(user_id) AS users, projection
FROM awards GROUP BY day, agent_name, projection;

CREATE TABLE IF NOT EXISTS action_daily
(
    day         Date,
    action_type LowCardinality(String),
    events      UInt64,
    base_points UInt64,
    xp          UInt64,
    xp_awarded  UInt64,
    `projection`  UInt32
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, action_type, projection)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS action_daily_mv TO action_daily AS
SELECT toDate(stream_time) AS day, action_type, count() AS events, sum(toUInt64(base_points)) AS base_points,
       sum(toUInt64(xp)) AS xp, sum(toUInt64(total_awarded)) AS xp_awarded, projection
FROM awards GROUP BY day, action_type, projection;

CREATE TABLE IF NOT EXISTS user_days
(
    day         Date,
    user_id     String,
    events      SimpleAggregateFunction(sum, UInt64),
    xp_awarded  SimpleAggregateFunction(sum, UInt64),
    max_streak  SimpleAggregateFunction(max, UInt32),
    level       SimpleAggregateFunction(max, UInt8),
    first_award SimpleAggregateFunction(max, UInt8),
    `projection`  UInt32
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, user_id, projection)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS user_days_mv TO user_days AS
SELECT toDate(stream_time) AS day, user_id, count() AS events, sum(toUInt64(total_awarded)) AS xp_awarded,
       max(streak_days) AS max_streak, max(level_after) AS level,
       max(toUInt8(total_xp_after = total_awarded)) AS first_award, projection
FROM awards GROUP BY day, user_id, projection;

CREATE TABLE IF NOT EXISTS achievement_daily
(
    day         Date,
    achievement LowCardinality(String),
    events      UInt64,
    bonus_xp    UInt64,
    `projection`  UInt32
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, achievement, projection)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS achievement_daily_mv TO achievement_daily AS
SELECT toDate(stream_time) AS day, achievement, count() AS events, sum(toUInt64(bonus)) AS bonus_xp, projection
FROM achievements GROUP BY day, achievement, projection;

CREATE TABLE IF NOT EXISTS level_daily
(
    day        Date,
    level      UInt8,
    events     UInt64,
    `projection` UInt32
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, level, projection)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS level_daily_mv TO level_daily AS
SELECT toDate(stream_time) AS day, toUInt8(arrayJoin(range(toUInt32(from_level) + 1, toUInt32(to_level) + 1))) AS level,
       count() AS events, projection
FROM level_ups GROUP BY day, level, projection;

CREATE TABLE IF NOT EXISTS rejection_daily
(
    day        Date,
    reason     LowCardinality(String),
    events     UInt64,
    `projection` UInt32
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, reason, projection)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS rejection_daily_mv TO rejection_daily AS
SELECT toDate(stream_time) AS day, reason, count() AS events, projection
FROM rejections GROUP BY day, reason, projection;

CREATE TABLE IF NOT EXISTS pipeline_minute
(
    minute     DateTime('UTC'),
    kind       LowCardinality(String),
    events     UInt64,
    `projection` UInt32
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, kind, projection)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS pipeline_minute_awards_mv TO pipeline_minute AS
SELECT toStartOfMinute(toDateTime(stream_time, 'UTC')) AS minute, 'applied' AS kind, count() AS events, projection
FROM awards GROUP BY minute, projection;

CREATE MATERIALIZED VIEW IF NOT EXISTS pipeline_minute_rejections_mv TO pipeline_minute AS
SELECT toStartOfMinute(toDateTime(stream_time, 'UTC')) AS minute, 'rejected' AS kind, count() AS events, projection
FROM rejections GROUP BY minute, projection;

CREATE TABLE IF NOT EXISTS correction_daily
(
    day        Date,
    user_id    String,
    agent_name LowCardinality(String),
    events     SimpleAggregateFunction(sum, UInt64),
    xp         SimpleAggregateFunction(sum, Int64),
    `projection` UInt32
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, user_id, agent_name, projection)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS correction_daily_mv TO correction_daily AS
SELECT toDate(stream_time) AS day, user_id, agent_name, count() AS events, sum(xp) AS xp, projection
FROM corrections GROUP BY day, user_id, agent_name, projection;
