-- name: achievement_unlocks
-- title: Achievement unlock rates
-- description: Unlocks per achievement in the range, the bonus XP they paid, and unlocks per
-- description: active user of the range (an achievement unlocks once per user).
-- chart: bars
-- Ranges: {from} inclusive, {to} exclusive, UTC; daily rollups cover the days they touch.
SELECT
    achievement,
    sum(events)    AS unlocks,
    sum(bonus_xp)  AS bonus_xp,
    round(unlocks / greatest(
        (SELECT uniqExact(user_id) FROM user_days
         WHERE projection = {projection:UInt32} AND day BETWEEN toDate({from:DateTime64(3)}, 'UTC') AND toDate({to:DateTime64(3)} - INTERVAL 1 MILLISECOND, 'UTC')), 1), 4) AS per_active_user
FROM achievement_daily
WHERE projection = {projection:UInt32} AND day BETWEEN toDate({from:DateTime64(3)}, 'UTC') AND toDate({to:DateTime64(3)} - INTERVAL 1 MILLISECOND, 'UTC')
GROUP BY achievement
ORDER BY unlocks DESC, achievement
