-- name: active_users
-- title: Daily and weekly active users
-- description: DAU (users with an accepted event that UTC day) and WAU (distinct users over the
-- description: 7 days ending that day), per day of the range. Days without activity show 0.
-- chart: timeseries
-- Ranges: {from} inclusive, {to} exclusive, UTC; daily rollups cover the days they touch.
SELECT
    toDate(active_day + k)                  AS day,
    uniqExactIf(user_id, k = 0)             AS dau,
    uniqExact(user_id)                      AS wau
FROM
(
    SELECT DISTINCT day AS active_day, user_id
    FROM user_days
    WHERE day BETWEEN toDate({from:DateTime64(3)}, 'UTC') - 6 AND toDate({to:DateTime64(3)} - INTERVAL 1 MILLISECOND, 'UTC')
)
ARRAY JOIN range(7) AS k
WHERE toDate(active_day + k) BETWEEN toDate({from:DateTime64(3)}, 'UTC') AND toDate({to:DateTime64(3)} - INTERVAL 1 MILLISECOND, 'UTC')
GROUP BY day
ORDER BY day WITH FILL FROM toDate({from:DateTime64(3)}, 'UTC') TO toDate({to:DateTime64(3)} - INTERVAL 1 MILLISECOND, 'UTC') + 1
