// The rules history (ARCHITECTURE §10): every rules version Arena has used, each in force from a
// stream seq until the next one starts. Every event is scored by the version in force at its seq,
// forever, so a replay after any number of rules changes gives the same ledger. Also the one rule
// that decides what a start with a given rules file does to the history (planRulesStart).
import type { CompiledRules } from "./Rules.js"
import type { RulesDocument } from "./RulesSchema.js"

/** One recorded version: the compiled rules, where they start, and what identifies their content. */
export interface RulesVersion {
  readonly rules: CompiledRules
  /** The first stream seq scored by this version. */
  readonly effectiveFromSeq: number
  /** sha256 of canonicalRulesText (hex). */
  readonly contentHash: string
  /** When it was recorded (ISO time), for GET /v1/rules; "" when not stored. */
  readonly recordedAt: string
}

/** The range of seqs one version scores: [from, to). */
export interface RulesRange {
  readonly rules: CompiledRules
  readonly from: number
  readonly to: number
}

export class RulesHistory {
  /** As recorded, ordered by effectiveFromSeq (stable: a later record at the same seq comes later). */
  readonly versions: ReadonlyArray<RulesVersion>
  /** The versions that score something: at one start seq only the last recorded one counts. */
  private readonly starts: ReadonlyArray<RulesVersion>
  /** The longest period grace of any version: boards stay open until no version can score them. */
  readonly maxPeriodGraceMs: number

  private constructor(versions: ReadonlyArray<RulesVersion>) {
    if (versions.length === 0) throw new RangeError("a rules history needs at least one version")
    this.versions = [...versions].map((v, i) => ({ v, i })).sort((a, b) => a.v.effectiveFromSeq - b.v.effectiveFromSeq || a.i - b.i).map((x) => x.v)
    const starts: Array<RulesVersion> = []
    for (const v of this.versions) {
      if (starts.length > 0 && starts[starts.length - 1]!.effectiveFromSeq === v.effectiveFromSeq) starts[starts.length - 1] = v
      else starts.push(v)
    }
    this.starts = starts
    this.maxPeriodGraceMs = Math.max(...this.versions.map((v) => v.rules.periodGraceMs))
  }

  /** Versions in any order (a stored history); ordered by effectiveFromSeq, ties by the order given. */
  static of(versions: ReadonlyArray<RulesVersion>): RulesHistory {
    return new RulesHistory(versions)
  }

  /** One rules file for the whole stream (tests, backfill without a stored history). */
  static single(rules: CompiledRules, contentHash = ""): RulesHistory {
    return new RulesHistory([{ rules, effectiveFromSeq: 1, contentHash, recordedAt: "" }])
  }

  /** The version in force now (for new events and for profiles' achievements and freezes; a level is the scoring version's). */
  get current(): RulesVersion {
    return this.starts[this.starts.length - 1]!
  }

  /** The rules that score the event at `seq` (the first version also scores anything before it). */
  rulesAt(seq: number): CompiledRules {
    return this.rangeAt(seq).rules
  }

  /** The version in force at `seq` and the seqs it covers: a caller can skip the lookup inside it. */
  rangeAt(seq: number): RulesRange {
    const s = this.starts
    let lo = 0
    let hi = s.length - 1
    while (lo < hi) { // the last start ≤ seq (or the first)
      const mid = (lo + hi + 1) >> 1
      if (s[mid]!.effectiveFromSeq <= seq) lo = mid
      else hi = mid - 1
    }
    const next = s[lo + 1]
    return { rules: s[lo]!.rules, from: lo === 0 ? Number.NEGATIVE_INFINITY : s[lo]!.effectiveFromSeq, to: next === undefined ? Number.POSITIVE_INFINITY : next.effectiveFromSeq }
  }

  /** The same history with one more version (what a start with a new file records). */
  plus(v: RulesVersion): RulesHistory {
    return new RulesHistory([...this.versions, v])
  }
}

/**
 * The text a content hash is taken of: the validated document as JSON without whitespace (so a
 * reformatted file is the same content; a changed value, order or field is not).
 */
export const canonicalRulesText = (doc: RulesDocument): string => JSON.stringify(doc)

/** A recorded version as the store holds it (before it is compiled). */
export interface RecordedVersion {
  readonly version: string
  readonly contentHash: string
  readonly effectiveFromSeq: number
  /** What recorded it: a start with a new file (the default), `arena rules apply`, or a retroactive apply. */
  readonly source?: RulesSource
}

export type RulesSource = "start" | "apply" | "retroactive"

/** What a start with a rules file does to the recorded history. */
export type RulesStartPlan =
  | { readonly _tag: "Unchanged" }
  | { readonly _tag: "Stale"; readonly message: string }
  | { readonly _tag: "Record"; readonly effectiveFromSeq: number; readonly first: boolean }
  | { readonly _tag: "Conflict"; readonly message: string }

/**
 * The rule of §10 for a start with `file` (version and content hash) when the stream's last seq is
 * `headSeq`: the first version ever recorded scores the whole stream (from 1); a file whose content
 * is the version in force changes nothing; other content becomes a new version from headSeq + 1
 * (everything up to the head keeps the versions it was scored with); a version string already
 * recorded with other content is refused. `known` is every version ever recorded (all
 * projections; default: `recorded`). When the version in force was put there by `arena rules
 * apply`, a start whose file holds content Arena has already recorded is a stale ARENA_RULES
 * (the file the service was started with before the apply): it changes nothing (Stale, logged).
 */
export const planRulesStart = (
  recorded: ReadonlyArray<RecordedVersion>,
  file: { readonly version: string; readonly contentHash: string },
  headSeq: number,
  known: ReadonlyArray<{ readonly version: string; readonly contentHash: string }> = recorded
): RulesStartPlan => {
  const clash: { readonly contentHash: string; readonly effectiveFromSeq?: number } | undefined =
    recorded.find((r) => r.version === file.version && r.contentHash !== file.contentHash) ?? known.find((r) => r.version === file.version && r.contentHash !== file.contentHash)
  if (clash !== undefined) {
    return {
      _tag: "Conflict",
      message: `rules version ${JSON.stringify(file.version)} is already recorded with other content (sha256 ${clash.contentHash.slice(0, 12)}…, ` +
        `${clash.effectiveFromSeq === undefined ? "in an earlier projection" : `in force from seq ${clash.effectiveFromSeq}`}); this rules file has sha256 ${file.contentHash.slice(0, 12)}…. ` +
        "A version string names one content forever: give the changed rules a new version, or start with the recorded file."
    }
  }
  if (recorded.length === 0) return { _tag: "Record", effectiveFromSeq: 1, first: true }
  // `recorded` is in record order and the sort is stable: at one seq the last recorded wins, as in RulesHistory.
  const inForce = [...recorded].sort((a, b) => a.effectiveFromSeq - b.effectiveFromSeq).at(-1)!
  if (inForce.contentHash === file.contentHash) return { _tag: "Unchanged" }
  if (inForce.source !== undefined && inForce.source !== "start" && known.some((k) => k.contentHash === file.contentHash)) {
    return {
      _tag: "Stale",
      message: `rules ${inForce.version} (sha256 ${inForce.contentHash.slice(0, 12)}…) were put in force by \`arena rules apply\`${inForce.source === "retroactive" ? " --retroactive" : ""}; ` +
        `the rules file this start was given (${file.version}, sha256 ${file.contentHash.slice(0, 12)}…) is an older recorded version and changes nothing. ` +
        "Point ARENA_RULES at the applied file to silence this."
    }
  }
  return { _tag: "Record", effectiveFromSeq: headSeq + 1, first: false }
}

/**
 * `arena rules apply` (from head + 1) with `file`: as a start (planRulesStart) except that an
 * applied file is never stale — applying an older content again makes it the version in force.
 */
export const planRulesApply = (
  recorded: ReadonlyArray<RecordedVersion>,
  file: { readonly version: string; readonly contentHash: string },
  headSeq: number,
  known: ReadonlyArray<{ readonly version: string; readonly contentHash: string }> = recorded
): RulesStartPlan => planRulesStart(recorded.map((r) => ({ version: r.version, contentHash: r.contentHash, effectiveFromSeq: r.effectiveFromSeq })), file, headSeq, known)

/** One row of GET /v1/rules' history. */
export interface RulesHistoryRow {
  readonly version: string
  readonly content_hash: string
  readonly effective_from_seq: number
  readonly recorded_at: string
}

const rowOf = (v: { readonly version: string; readonly contentHash: string; readonly effectiveFromSeq: number; readonly recordedAt: string }): RulesHistoryRow =>
  ({ version: v.version, content_hash: v.contentHash, effective_from_seq: v.effectiveFromSeq, recorded_at: v.recordedAt })

/**
 * GET /v1/rules: the version in force (its whole document, as before, plus its hash and first seq)
 * and the history in seq order. Until this start's file is established (or when it is refused:
 * `refused` says why) `in_force` is false, the document is the file's and the history is what is
 * recorded.
 */
export const rulesHistoryDocument = (h: RulesHistory) => ({
  ...h.current.rules.document,
  content_hash: h.current.contentHash,
  effective_from_seq: h.current.effectiveFromSeq,
  in_force: true,
  history: h.versions.map((v) => rowOf({ version: v.rules.version, ...v }))
})

export const refusedRulesDocument = (
  file: RulesDocument,
  recorded: ReadonlyArray<{ readonly version: string; readonly contentHash: string; readonly effectiveFromSeq: number; readonly recordedAt: string }>,
  refused: string | null
) => ({ ...file, in_force: false, ...(refused === null ? {} : { refused }), history: recorded.map(rowOf) })
