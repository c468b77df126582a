-- name: pipeline_health
-- title: Pipeline health
-- description: Applied and rejected events per minute over time. The bucket grows with the
-- description: range (1 min up to 6 h, 10 min up to 3 days, then 1 h); values are per-minute averages.
-- chart: timeseries
-- Ranges: {from} inclusive, {to} exclusive, UTC; minutes that start in the range.
WITH
    dateDiff('second', {from:DateTime64(3)}, {to:DateTime64(3)}) AS span,
    multiIf(span <= 6 * 3600, 60, span <= 3 * 86400, 600, 3600) AS bucket
SELECT
    toDateTime(intDiv(toUInt32(minute), bucket) * bucket, 'UTC')   AS time,
    sumIf(events, kind = 'applied') / (bucket / 60)                  AS applied_per_min,
    sumIf(events, kind = 'rejected') / (bucket / 60)                 AS rejected_per_min
FROM pipeline_minute
WHERE projection = {projection:UInt32} AND minute >= toStartOfMinute({from:DateTime64(3)}) AND minute < {to:DateTime64(3)}
GROUP BY time
ORDER BY time
