// The versioned rules document (ARCHITECTURE §3) as JSON: its effect/Schema and types. This is
// the shape of ARENA_RULES files and of GET /v1/rules. Cross-field checks live in Rules.ts.
import { Schema } from "effect"
import { parseDec } from "./Decimal.js"

const Str = Schema.String.annotate({ message: "must be a string" })
const NonEmpty = (max: number) =>
  Str.check(
    Schema.isMinLength(1, { message: "must not be empty" }),
    Schema.isMaxLength(max, { message: `must be at most ${max} characters` })
  )
const Int = (min: number) =>
  Schema.Number.annotate({ message: "must be a number" }).check(
    Schema.isInt({ message: "must be an integer" }),
    Schema.isGreaterThanOrEqualTo(min, { message: `must be at least ${min}` })
  )

/** Names of actions, multipliers and achievements: also used as object keys, so no `__proto__`. */
export const NAME_PATTERN = /^[a-z][a-z0-9_]{0,63}$/u
export const Name = Str.check(Schema.isPattern(NAME_PATTERN, { message: "must match ^[a-z][a-z0-9_]{0,63}$" }))

/** A positive exact decimal with at most 4 fraction digits ("1.5", "2.0", "3"). */
export const DecimalString = Str.check(
  Schema.makeFilter((s: string) => (parseDec(s)?.n ?? 0) > 0 || "must be a positive decimal with at most 4 fraction digits, e.g. \"1.5\"", {
    description: "positive decimal with at most 4 fraction digits",
    toJsonSchema: () => ({ pattern: "^[0-9]{1,6}(\\.[0-9]{1,4})?$" })
  })
)

export const FixedAction = Schema.Struct({ points: Int(0) })
export const EventPointsAction = Schema.Struct({
  /** The event's own `base_points`, which must lie in [min, max]. */
  points_from_event: Schema.Struct({ min: Int(0), max: Int(0) })
})
export const ActionRule = Schema.Union([FixedAction, EventPointsAction]).annotate({
  message: "must be {\"points\": n} or {\"points_from_event\": {\"min\": a, \"max\": b}}"
})

export const StreakTierRule = Schema.Struct({ days: Int(1), multiplier: DecimalString })
export const LevelRule = Schema.Struct({ level: Int(1), title: NonEmpty(64), xp: Int(0) })

export const AchievementCondition = Schema.Union([
  Schema.Struct({ kind: Schema.Literal("first_event") }),
  Schema.Struct({ kind: Schema.Literal("action_count"), action: Name, count: Int(1) }),
  Schema.Struct({ kind: Schema.Literal("streak"), days: Int(1) }),
  Schema.Struct({ kind: Schema.Literal("all_actions"), actions: Schema.Array(Name).check(Schema.isMinLength(1, { message: "must not be empty" })) }),
  Schema.Struct({ kind: Schema.Literal("total_xp"), xp: Int(1) })
]).annotate({ message: "must have kind first_event | action_count | streak | all_actions | total_xp with its fields" })
export type AchievementCondition = typeof AchievementCondition.Type

export const AchievementRule = Schema.Struct({
  id: Name,
  title: NonEmpty(64),
  description: NonEmpty(256),
  bonus: Int(0),
  condition: AchievementCondition
})
export type AchievementRule = typeof AchievementRule.Type

export const RulesDocument = Schema.Struct({
  version: NonEmpty(64),
  actions: Schema.Record(Schema.String, ActionRule),
  multipliers: Schema.Record(Schema.String, DecimalString),
  streak_tiers: Schema.Array(StreakTierRule),
  multiplier_cap: DecimalString,
  levels: Schema.Array(LevelRule).check(Schema.isMinLength(1, { message: "must not be empty" })),
  achievements: Schema.Array(AchievementRule),
  future_skew_seconds: Int(0),
  period_grace_seconds: Int(0),
  /**
   * Streak options. `freezes_per_month`: missed days a month that are bridged automatically
   * (ARCHITECTURE §11). Absent means 0, so rules versions written before freezes existed replay
   * exactly as they scored; the default rules set 2.
   */
  streak: Schema.optional(Schema.Struct({ freezes_per_month: Int(0).check(Schema.isLessThanOrEqualTo(31, { message: "must be at most 31" })) }))
}).annotate({ title: "ArenaRules", message: "must be a JSON object" })
export type RulesDocument = typeof RulesDocument.Type

export const RULES_PARSE_OPTIONS = { errors: "all", onExcessProperty: "error" } as const
