-- name: agent_by_metadata
-- title: Agent performance by metadata.model
-- description: Per agent and per the `model` its producers put in event metadata (ARCHITECTURE
-- description: §11): events, XP awarded (with achievement bonuses), mean XP per event, distinct
-- description: users. Events without metadata.model show as "(none)". Reads the raw awards (the
-- description: metadata column), pruned to the range's month partitions. Edit the path to break
-- description: down by another field, e.g. metadata.repo or metadata.task.kind.
-- chart: table
-- Paste into clickhouse-client:
--   clickhouse-client --database arena --param_projection=0 --param_from='2026-01-01 00:00:00' --param_to='2026-02-01 00:00:00' --queries-file agent_by_metadata.sql
-- Ranges: {from} inclusive, {to} exclusive, UTC (stream time).
SELECT
    agent_name,
    if(isNull(metadata.model), '(none)', toString(metadata.model)) AS model,
    count()                                     AS events,
    sum(toUInt64(total_awarded))                AS xp_awarded,
    round(avg(total_awarded), 2)                AS xp_per_event,
    uniqExact(user_id)                          AS users
FROM awards
WHERE projection = {projection:UInt32} AND stream_time >= {from:DateTime64(3)} AND stream_time < {to:DateTime64(3)}
GROUP BY agent_name, model
ORDER BY agent_name, events DESC, model
