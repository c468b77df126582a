-- Rollups for the dashboards, fed by materialized views from the raw tables. Time is stream time
-- (when Arena accepted the event), the same clock as the raw tables' partitions.
-- Every rollup has an `events` column counting the source rows it absorbed: at start-up (and
-- after a failed insert) the sink compares sum(events) per month with its sources and rebuilds
-- a month that differs, which repairs a crash between a raw part and its views' parts.

-- Per agent per day: events, XP awarded (incl. bonuses), distinct users (uniq state).
CREATE TABLE IF NOT EXISTS agent_daily
(
    day        Date,
    agent_name LowCardinality(String),
    events     SimpleAggregateFunction(sum, UInt64),
    xp_awarded SimpleAggregateFunction(sum, UInt64),
    users      AggregateFunction(uniq, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, agent_name)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS agent_daily_mv TO agent_daily AS
SELECT toDate(stream_time) AS day, agent_name, count() AS events,
       sum(toUInt64(total_awarded)) AS xp_awarded, uniqState(user_id) AS users
FROM awards GROUP BY day, agent_name;

-- Per action type per day: xp is the multiplied XP, xp_awarded adds achievement bonuses.
CREATE TABLE IF NOT EXISTS action_daily
(
    day         Date,
    action_type LowCardinality(String),
    events      UInt64,
    base_points UInt64,
    xp          UInt64,
    xp_awarded  UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, action_type)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS action_daily_mv TO action_daily AS
SELECT toDate(stream_time) AS day, action_type, count() AS events, sum(toUInt64(base_points)) AS base_points,
       sum(toUInt64(xp)) AS xp, sum(toUInt64(total_awarded)) AS xp_awarded
FROM awards GROUP BY day, action_type;

-- Per user per active day: the basis of DAU/WAU, retention cohorts, streak health and levels.
CREATE TABLE IF NOT EXISTS user_days
(
    day         Date,
    user_id     String,
    events      SimpleAggregateFunction(sum, UInt64),
    xp_awarded  SimpleAggregateFunction(sum, UInt64),
    max_streak  SimpleAggregateFunction(max, UInt32),
    level       SimpleAggregateFunction(max, UInt8),
    first_award SimpleAggregateFunction(max, UInt8)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, user_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- first_award: the user's first accepted event is on this day (nothing was earned before it;
-- every accepted event earns at least 1 XP).
CREATE MATERIALIZED VIEW IF NOT EXISTS user_days_mv TO user_days AS
SELECT toDate(stream_time) AS day, user_id, count() AS events, sum(toUInt64(total_awarded)) AS xp_awarded,
       max(streak_days) AS max_streak, max(level_after) AS level,
       max(toUInt8(total_xp_after = total_awarded)) AS first_award
FROM awards GROUP BY day, user_id;

-- Achievement unlocks per day.
CREATE TABLE IF NOT EXISTS achievement_daily
(
    day         Date,
    achievement LowCardinality(String),
    events      UInt64,
    bonus_xp    UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, achievement)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS achievement_daily_mv TO achievement_daily AS
SELECT toDate(stream_time) AS day, achievement, count() AS events, sum(toUInt64(bonus)) AS bonus_xp
FROM achievements GROUP BY day, achievement;

-- Level crossings per day: a level-up from 2 to 4 crosses levels 3 and 4.
CREATE TABLE IF NOT EXISTS level_daily
(
    day    Date,
    level  UInt8,
    events UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, level)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS level_daily_mv TO level_daily AS
SELECT toDate(stream_time) AS day, toUInt8(arrayJoin(range(toUInt32(from_level) + 1, toUInt32(to_level) + 1))) AS level,
       count() AS events
FROM level_ups GROUP BY day, level;

-- Rejections per reason per day.
CREATE TABLE IF NOT EXISTS rejection_daily
(
    day    Date,
    reason LowCardinality(String),
    events UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, reason)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS rejection_daily_mv TO rejection_daily AS
SELECT toDate(stream_time) AS day, reason, count() AS events
FROM rejections GROUP BY day, reason;

-- Pipeline health: applied and rejected events per minute.
CREATE TABLE IF NOT EXISTS pipeline_minute
(
    minute DateTime('UTC'),
    kind   LowCardinality(String),
    events UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, kind)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS pipeline_minute_awards_mv TO pipeline_minute AS
SELECT toStartOfMinute(toDateTime(stream_time, 'UTC')) AS minute, 'applied' AS kind, count() AS events
FROM awards GROUP BY minute;

CREATE MATERIALIZED VIEW IF NOT EXISTS pipeline_minute_rejections_mv TO pipeline_minute AS
SELECT toStartOfMinute(toDateTime(stream_time, 'UTC')) AS minute, 'rejected' AS kind, count() AS events
FROM rejections GROUP BY minute;
