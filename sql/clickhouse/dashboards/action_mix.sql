-- name: action_mix
-- title: Action types
-- description: Events per action type in the range, the XP they earned before and after
-- description: multipliers, and the average applied multiplier (xp / base points).
-- chart: bars
-- Ranges: {from} inclusive, {to} exclusive, UTC; daily rollups cover the days they touch.
SELECT
    action_type,
    sum(events)                                 AS events,
    sum(base_points)                            AS base_points,
    sum(xp)                                     AS xp,
    sum(xp_awarded)                             AS xp_awarded,
    round(xp / greatest(base_points, 1), 4)     AS avg_multiplier
FROM action_daily
WHERE projection = {projection:UInt32} AND day BETWEEN toDate({from:DateTime64(3)}, 'UTC') AND toDate({to:DateTime64(3)} - INTERVAL 1 MILLISECOND, 'UTC')
GROUP BY action_type
ORDER BY events DESC, action_type
