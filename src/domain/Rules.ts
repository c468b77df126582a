// Compiled rules: the validated rules document turned into lookup tables and exact decimals
// (loadRules), the per-event semantic check against them (checkSemantics), and the JSON views
// served at GET /v1/rules and GET /v1/achievements.
import { Data, Result, Schema } from "effect"
import type { Issue, MultiplierApplied, Rejection, XpEvent } from "./Model.js"
import type { Dec } from "./Decimal.js"
import { decText, parseDec, toBasisPoints } from "./Decimal.js"
import { issuesOfExit, summarize } from "./Issues.js"
import type { AchievementCondition, RulesDocument } from "./RulesSchema.js"
import { NAME_PATTERN, RULES_PARSE_OPTIONS, RulesDocument as RulesDocumentSchema } from "./RulesSchema.js"

export type CompiledAction =
  | { readonly name: string; readonly kind: "fixed"; readonly points: number }
  | { readonly name: string; readonly kind: "from_event"; readonly min: number; readonly max: number }

/** A decimal factor: exact value, canonical text ("2" for "2.0") and basis points (×10^4). */
export interface Factor {
  readonly dec: Dec
  readonly text: string
  readonly bp: number
}

/** A named multiplier; `applied` is its (shared, immutable) ledger line. */
export interface CompiledMultiplier extends Factor {
  readonly applied: MultiplierApplied
}

export interface CompiledStreakTier extends Factor {
  readonly days: number
}

export interface LevelDef {
  readonly level: number
  readonly title: string
  readonly xp: number
}

export interface AchievementDef {
  readonly id: string
  readonly title: string
  readonly description: string
  readonly bonus: number
  readonly condition: AchievementCondition
  /** The number progress is measured against (count, days, actions, XP; 1 for first_event). */
  readonly target: number
}

export interface CompiledRules {
  readonly version: string
  readonly actions: ReadonlyMap<string, CompiledAction>
  readonly multipliers: ReadonlyMap<string, CompiledMultiplier>
  /** Ascending by days. */
  readonly streakTiers: ReadonlyArray<CompiledStreakTier>
  readonly cap: Factor
  /** Ascending by xp; levels[i].level === i + 1; levels[0].xp === 0. */
  readonly levels: ReadonlyArray<LevelDef>
  /** Catalog order (as in the document). */
  readonly achievements: ReadonlyArray<AchievementDef>
  /**
   * The fixed order achievements are evaluated in for one event: every non-`total_xp`
   * achievement in catalog order, then `total_xp` ones by ascending threshold (ties: catalog
   * order), so a `total_xp` achievement sees the bonuses unlocked before it in the same award.
   */
  readonly evaluationOrder: ReadonlyArray<AchievementDef>
  readonly futureSkewMs: number
  readonly periodGraceMs: number
  /** Missed streak days bridged a month (document streak.freezes_per_month; absent: 0). */
  readonly freezesPerMonth: number
  /** The validated source document, served as-is at GET /v1/rules. */
  readonly document: RulesDocument
}

export class RulesError extends Data.TaggedError("RulesError")<{
  readonly message: string
  readonly issues: ReadonlyArray<Issue>
}> {}

const factor = (s: string): Factor => {
  const dec = parseDec(s)
  if (dec === null) throw new RangeError(`not a decimal: ${s}`) // the Schema already checked
  return { dec, text: decText(dec), bp: toBasisPoints(dec) }
}

const targetOf = (c: AchievementCondition): number => {
  switch (c.kind) {
    case "first_event": return 1
    case "action_count": return c.count
    case "streak": return c.days
    case "all_actions": return c.actions.length
    case "total_xp": return c.xp
  }
}

/** Cross-field rules the Schema cannot express; one issue per problem, with its path. */
const crossCheck = (doc: RulesDocument): Array<Issue> => {
  const issues: Array<Issue> = []
  const names = (rec: Readonly<Record<string, unknown>>, path: string) => {
    for (const k of Object.keys(rec)) {
      if (!NAME_PATTERN.test(k)) issues.push({ path: `${path}.${k}`, message: "name must match ^[a-z][a-z0-9_]{0,63}$" })
    }
  }
  names(doc.actions, "actions")
  names(doc.multipliers, "multipliers")
  if (Object.keys(doc.actions).length === 0) issues.push({ path: "actions", message: "must define at least one action" })
  for (const [k, a] of Object.entries(doc.actions)) {
    if ("points_from_event" in a && a.points_from_event.max < a.points_from_event.min) {
      issues.push({ path: `actions.${k}.points_from_event.max`, message: "must be at least min" })
    }
  }
  doc.streak_tiers.forEach((t, i) => {
    const prev = doc.streak_tiers[i - 1]
    if (prev !== undefined && t.days <= prev.days) issues.push({ path: `streak_tiers[${i}].days`, message: "must be greater than the previous tier's days" })
  })
  doc.levels.forEach((l, i) => {
    if (l.level !== i + 1) issues.push({ path: `levels[${i}].level`, message: `must be ${i + 1} (levels are numbered from 1 in order)` })
    const prev = doc.levels[i - 1]
    if (i === 0 && l.xp !== 0) issues.push({ path: "levels[0].xp", message: "must be 0 (everyone starts at level 1)" })
    if (prev !== undefined && l.xp <= prev.xp) issues.push({ path: `levels[${i}].xp`, message: "must be greater than the previous level's xp" })
  })
  const ids = new Set<string>()
  doc.achievements.forEach((a, i) => {
    if (ids.has(a.id)) issues.push({ path: `achievements[${i}].id`, message: `duplicate id "${a.id}"` })
    ids.add(a.id)
    const c = a.condition
    const known = (action: string, path: string) => {
      if (!Object.hasOwn(doc.actions, action)) issues.push({ path, message: `unknown action "${action}"` })
    }
    if (c.kind === "action_count") known(c.action, `achievements[${i}].condition.action`)
    if (c.kind === "all_actions") {
      c.actions.forEach((x, j) => {
        known(x, `achievements[${i}].condition.actions[${j}]`)
        if (c.actions.indexOf(x) !== j) issues.push({ path: `achievements[${i}].condition.actions[${j}]`, message: "is repeated" })
      })
    }
  })
  return issues
}

const decodeDocument = Schema.decodeUnknownExit(RulesDocumentSchema, RULES_PARSE_OPTIONS)

/** Validates a rules document (e.g. the parsed ARENA_RULES file) and compiles it. */
export const loadRules = (json: unknown): Result.Result<CompiledRules, RulesError> => {
  const exit = decodeDocument(json)
  const schemaIssues = issuesOfExit(exit)
  const issues = exit._tag === "Success" ? crossCheck(exit.value) : schemaIssues
  if (exit._tag === "Failure" || issues.length > 0) {
    return Result.fail(new RulesError({ message: `invalid rules: ${summarize(issues)}`, issues }))
  }
  const doc = exit.value
  const actions = new Map<string, CompiledAction>()
  for (const [name, a] of Object.entries(doc.actions)) {
    actions.set(name, "points" in a
      ? { name, kind: "fixed", points: a.points }
      : { name, kind: "from_event", min: a.points_from_event.min, max: a.points_from_event.max })
  }
  const achievements = doc.achievements.map((a) => ({ ...a, target: targetOf(a.condition) }))
  const xpThreshold = (a: AchievementDef) => (a.condition.kind === "total_xp" ? a.condition.xp : -1)
  const evaluationOrder = achievements
    .map((a, i) => ({ a, i }))
    .sort((x, y) => xpThreshold(x.a) - xpThreshold(y.a) || x.i - y.i)
    .map((x) => x.a)
  return Result.succeed({
    version: doc.version,
    actions,
    multipliers: new Map(Object.entries(doc.multipliers).map(([name, v]) => {
      const f = factor(v)
      return [name, { ...f, applied: Object.freeze({ name, factor: f.text }) }]
    })),
    streakTiers: doc.streak_tiers.map((t) => ({ days: t.days, ...factor(t.multiplier) })),
    cap: factor(doc.multiplier_cap),
    levels: doc.levels.map((l) => ({ level: l.level, title: l.title, xp: l.xp })),
    achievements,
    evaluationOrder,
    futureSkewMs: doc.future_skew_seconds * 1000,
    periodGraceMs: doc.period_grace_seconds * 1000,
    freezesPerMonth: doc.streak?.freezes_per_month ?? 0,
    document: doc
  })
}

/** loadRules for documents known to be valid (the built-in defaults); throws otherwise. */
export const loadRulesOrThrow = (json: unknown): CompiledRules => {
  const r = loadRules(json)
  if (Result.isFailure(r)) throw r.failure
  return r.success
}

const rejection = (reason: Rejection["reason"], issues: ReadonlyArray<Issue>): Rejection => ({
  reason,
  message: `${reason.replace(/_/g, " ")}: ${summarize(issues)}`,
  issues
})

/**
 * Rules-dependent validation of a structurally valid event, in a fixed order: action type,
 * base points, multipliers, future timestamp. Allocation-free when the event is fine.
 * "Now" is the stream (JetStream) time; an event exactly `futureSkewMs` ahead is accepted.
 */
export const checkSemantics = (ev: XpEvent, timeMs: number, rules: CompiledRules, streamTimeMs: number): Rejection | null => {
  const action = rules.actions.get(ev.action_type)
  if (action === undefined) {
    return rejection("unknown_action", [{
      path: "action_type",
      message: `unknown action type ${JSON.stringify(ev.action_type)}; expected one of ${[...rules.actions.keys()].join(", ")}`
    }])
  }
  const bp = ev.base_points
  if (action.kind === "fixed") {
    if (bp !== undefined && bp !== action.points) {
      return rejection("invalid_base_points", [{ path: "base_points", message: `must be absent or ${action.points} for ${action.name}` }])
    }
  } else if (bp === undefined) {
    return rejection("invalid_base_points", [{ path: "base_points", message: `is required for ${action.name} (${action.min}..${action.max})` }])
  } else if (bp < action.min || bp > action.max) {
    return rejection("invalid_base_points", [{ path: "base_points", message: `must be between ${action.min} and ${action.max} for ${action.name}` }])
  }
  const ms = ev.multipliers
  if (ms !== undefined && ms.length > 0) {
    let issues: Array<Issue> | null = null
    for (let i = 0; i < ms.length; i++) {
      const m = ms[i]!
      let problem: string | null = null
      if (!rules.multipliers.has(m)) problem = `unknown multiplier ${JSON.stringify(m)}; expected one of ${[...rules.multipliers.keys()].join(", ")}`
      else {
        const first = ms.indexOf(m)
        if (first !== i) problem = `repeats multipliers[${first}] (each multiplier at most once)`
      }
      if (problem !== null) (issues ??= []).push({ path: `multipliers[${i}]`, message: problem })
    }
    if (issues !== null) return rejection("invalid_multiplier", issues)
  }
  if (timeMs > streamTimeMs + rules.futureSkewMs) {
    return rejection("future_timestamp", [{
      path: "timestamp",
      message: `is ${timeMs - streamTimeMs} ms after the stream time ${new Date(streamTimeMs).toISOString()}; at most ${rules.futureSkewMs} ms allowed`
    }])
  }
  return null
}

/** GET /v1/rules: the current rules document (with its version), JSON-ready. */
export const rulesDocument = (rules: CompiledRules): RulesDocument => rules.document

export interface CatalogEntry {
  readonly id: string
  readonly title: string
  readonly description: string
  readonly bonus: number
  readonly target: number
  readonly condition: AchievementCondition
}

/** GET /v1/achievements: the achievement catalog in rules order, JSON-ready. */
export const achievementCatalog = (rules: CompiledRules): { readonly version: string; readonly achievements: ReadonlyArray<CatalogEntry> } => ({
  version: rules.version,
  achievements: rules.achievements.map((a) => ({
    id: a.id, title: a.title, description: a.description, bonus: a.bonus, target: a.target, condition: a.condition
  }))
})
