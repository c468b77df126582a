-- name: rejection_reasons
-- title: Rejected events by reason
-- description: Events sent to the DLQ in the range, per reason, and each reason's share.
-- chart: bars
-- Ranges: {from} inclusive, {to} exclusive, UTC; daily rollups cover the days they touch.
SELECT
    reason,
    sum(events)                                  AS rejected,
    round(rejected / sum(rejected) OVER (), 4)   AS share
FROM rejection_daily
WHERE projection = {projection:UInt32} AND day BETWEEN toDate({from:DateTime64(3)}, 'UTC') AND toDate({to:DateTime64(3)} - INTERVAL 1 MILLISECOND, 'UTC')
GROUP BY reason
ORDER BY rejected DESC, reason
