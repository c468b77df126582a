-- name: level_progression
-- title: Level progression
-- description: Users reaching each level, per day (a level-up from 2 to 4 counts for 3 and 4).
-- description: Levels 2..8 of the default rules.
-- chart: timeseries
-- Ranges: {from} inclusive, {to} exclusive, UTC; daily rollups cover the days they touch.
SELECT
    day,
    sumIf(events, level = 2) AS level_2,
    sumIf(events, level = 3) AS level_3,
    sumIf(events, level = 4) AS level_4,
    sumIf(events, level = 5) AS level_5,
    sumIf(events, level = 6) AS level_6,
    sumIf(events, level = 7) AS level_7,
    sumIf(events, level = 8) AS level_8
FROM level_daily
WHERE projection = {projection:UInt32} AND day BETWEEN toDate({from:DateTime64(3)}, 'UTC') AND toDate({to:DateTime64(3)} - INTERVAL 1 MILLISECOND, 'UTC')
GROUP BY day
ORDER BY day WITH FILL FROM toDate({from:DateTime64(3)}, 'UTC') TO toDate({to:DateTime64(3)} - INTERVAL 1 MILLISECOND, 'UTC') + 1
