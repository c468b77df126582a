-- name: xp_distribution
-- title: XP distribution
-- description: How many active users earned how much XP (awarded, with bonuses, net of corrections) in the range,
-- description: in buckets [xp_from, next bucket's xp_from); the last bucket is open-ended.
-- chart: bars
-- Ranges: {from} inclusive, {to} exclusive, UTC; daily rollups cover the days they touch.
WITH [0, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000] AS bounds
SELECT
    b                                                                  AS xp_from,
    countIf(xp >= b AND (i = length(bounds) OR xp < bounds[i + 1]))    AS users
FROM
(
    -- Active users of the range, XP net of the corrections made in the range (never below 0).
    SELECT u.user_id AS user_id, greatest(toInt64(u.xp) + c.xp, 0) AS xp
    FROM
    (
        SELECT user_id, sum(xp_awarded) AS xp
        FROM user_days
        WHERE projection = {projection:UInt32} AND day BETWEEN toDate({from:DateTime64(3)}, 'UTC') AND toDate({to:DateTime64(3)} - INTERVAL 1 MILLISECOND, 'UTC')
        GROUP BY user_id
    ) AS u
    LEFT JOIN
    (
        SELECT user_id, sum(xp) AS xp
        FROM correction_daily
        WHERE projection = {projection:UInt32} AND day BETWEEN toDate({from:DateTime64(3)}, 'UTC') AND toDate({to:DateTime64(3)} - INTERVAL 1 MILLISECOND, 'UTC')
        GROUP BY user_id
    ) AS c ON c.user_id = u.user_id
)
ARRAY JOIN bounds AS b, arrayEnumerate(bounds) AS i
GROUP BY b, i
ORDER BY b
