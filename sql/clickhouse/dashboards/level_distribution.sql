-- name: level_distribution
-- title: Level distribution
-- description: Users at each level at the end of the range (their highest level so far), and
-- description: how many users reached each level during the range.
-- chart: bars
-- Ranges: {from} inclusive, {to} exclusive, UTC; daily rollups cover the days they touch.
SELECT
    level,
    sum(users)    AS users,
    sum(reached)  AS reached_in_range
FROM
(
    SELECT level, count() AS users, toUInt64(0) AS reached
    FROM
    (
        SELECT user_id, max(level) AS level
        FROM user_days
        WHERE projection = {projection:UInt32} AND day <= toDate({to:DateTime64(3)} - INTERVAL 1 MILLISECOND, 'UTC')
        GROUP BY user_id
    )
    GROUP BY level
    UNION ALL
    SELECT level, toUInt64(0) AS users, sum(events) AS reached
    FROM level_daily
    WHERE projection = {projection:UInt32} AND day BETWEEN toDate({from:DateTime64(3)}, 'UTC') AND toDate({to:DateTime64(3)} - INTERVAL 1 MILLISECOND, 'UTC')
    GROUP BY level
)
GROUP BY level
ORDER BY level
