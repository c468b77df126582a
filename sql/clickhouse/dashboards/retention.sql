-- name: retention
-- title: Retention by first-day cohort
-- description: Users whose first accepted event fell on each day of the range, and how many of
-- description: them were active again exactly 1 and 7 days later (day-1 / day-7 retention).
-- chart: table
-- Ranges: {from} inclusive, {to} exclusive, UTC; cohorts are UTC days of stream time.
WITH cohorts AS
(
    SELECT user_id, day AS cohort
    FROM user_days
    WHERE projection = {projection:UInt32} AND day BETWEEN toDate({from:DateTime64(3)}, 'UTC') AND toDate({to:DateTime64(3)} - INTERVAL 1 MILLISECOND, 'UTC')
    GROUP BY user_id, day
    HAVING max(first_award) = 1
),
activity AS
(
    SELECT user_id, groupUniqArray(day) AS days
    FROM user_days
    WHERE projection = {projection:UInt32} AND day BETWEEN toDate({from:DateTime64(3)}, 'UTC') AND toDate({to:DateTime64(3)} - INTERVAL 1 MILLISECOND, 'UTC') + 7
      AND user_id IN (SELECT user_id FROM cohorts)
    GROUP BY user_id
)
SELECT
    c.cohort                                        AS cohort,
    count()                                         AS users,
    countIf(has(a.days, c.cohort + 1))              AS day1,
    countIf(has(a.days, c.cohort + 7))              AS day7,
    round(day1 / users, 4)                          AS day1_rate,
    round(day7 / users, 4)                          AS day7_rate
FROM cohorts AS c
INNER JOIN activity AS a USING (user_id)
GROUP BY cohort
ORDER BY cohort
