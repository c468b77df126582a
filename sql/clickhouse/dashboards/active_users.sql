-- name: active_users
-- title: Daily and weekly active users
-- description: DAU (users with an accepted event that UTC day) and WAU (distinct users over the
-- description: 7 days ending that day), per day of the range. Days without activity show 0 DAU.
-- chart: timeseries
-- Ranges: {from} inclusive, {to} exclusive, UTC; daily rollups cover the days they touch.
-- WAU merges each day's exact user set over a 7-row window of a gap-free day series: a 90-day
-- range costs ~100 set merges, not a scan of every user-day seven times.
WITH
    toDate({from:DateTime64(3)}, 'UTC')                              AS first_day,
    toDate({to:DateTime64(3)} - INTERVAL 1 MILLISECOND, 'UTC')       AS last_day
SELECT day, dau, wau
FROM
(
    SELECT
        calendar.day                                                                   AS day,
        daily.dau                                                                      AS dau,
        uniqExactMerge(daily.users) OVER (ORDER BY calendar.day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS wau
    FROM
    (
        SELECT toDate(first_day - 6 + number) AS day
        FROM numbers(toUInt64(last_day - first_day + 7))
    ) AS calendar
    LEFT JOIN
    (
        SELECT day, uniqExact(user_id) AS dau, uniqExactState(user_id) AS users
        FROM user_days
        WHERE projection = {projection:UInt32} AND day BETWEEN first_day - 6 AND last_day
        GROUP BY day
    ) AS daily ON daily.day = calendar.day
)
WHERE day >= first_day
ORDER BY day
