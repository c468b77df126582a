-- name: streak_health
-- title: Streak health
-- description: Active users per day and how many of them were on a streak of at least 3, 7 and
-- description: 30 consecutive days (the multiplier tiers of the default rules).
-- chart: timeseries
-- Ranges: {from} inclusive, {to} exclusive, UTC; daily rollups cover the days they touch.
SELECT
    day,
    count()                  AS active,
    countIf(streak >= 3)     AS streak_3,
    countIf(streak >= 7)     AS streak_7,
    countIf(streak >= 30)    AS streak_30
FROM
(
    SELECT day, user_id, max(max_streak) AS streak
    FROM user_days
    WHERE projection = {projection:UInt32} AND day BETWEEN toDate({from:DateTime64(3)}, 'UTC') AND toDate({to:DateTime64(3)} - INTERVAL 1 MILLISECOND, 'UTC')
    GROUP BY day, user_id
)
GROUP BY day
ORDER BY day WITH FILL FROM toDate({from:DateTime64(3)}, 'UTC') TO toDate({to:DateTime64(3)} - INTERVAL 1 MILLISECOND, 'UTC') + 1
