-- name: agent_popularity
-- title: Agent popularity
-- description: Events, XP awarded (with achievement bonuses) and distinct users per agent over
-- description: the UTC days of the range (stream time), XP net of the corrections made in the range. Users come from
-- description: uniq states (exact at this scale; approximate beyond ~65k users per agent-day).
-- chart: bars
-- Paste into clickhouse-client:
--   clickhouse-client --database arena --param_projection=0 --param_from='2026-01-01 00:00:00' --param_to='2026-02-01 00:00:00' --queries-file agent_popularity.sql
-- Ranges: {from} inclusive, {to} exclusive, UTC; daily rollups cover the days they touch.
SELECT
    a.agent_name                                  AS agent_name,
    a.events                                      AS events,
    toInt64(a.xp_awarded) + c.xp                  AS xp_awarded,
    a.users                                       AS users
FROM
(
    SELECT agent_name, sum(events) AS events, sum(xp_awarded) AS xp_awarded, uniqMerge(users) AS users
    FROM agent_daily
    WHERE projection = {projection:UInt32} AND day BETWEEN toDate({from:DateTime64(3)}, 'UTC') AND toDate({to:DateTime64(3)} - INTERVAL 1 MILLISECOND, 'UTC')
    GROUP BY agent_name
) AS a
LEFT JOIN
(
    -- Corrections in the range through the agent (voids of its events, adjusts naming it).
    SELECT agent_name, sum(xp) AS xp
    FROM correction_daily
    WHERE projection = {projection:UInt32} AND day BETWEEN toDate({from:DateTime64(3)}, 'UTC') AND toDate({to:DateTime64(3)} - INTERVAL 1 MILLISECOND, 'UTC')
      AND agent_name != ''
    GROUP BY agent_name
) AS c ON c.agent_name = a.agent_name
ORDER BY events DESC, agent_name
