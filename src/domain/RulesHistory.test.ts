// The rules history: each seq is scored by the version in force at it (boundaries, ties at one
// seq, the first version before its start), the grace boards keep, and the start rule of §10
// (first version from seq 1, same content unchanged, new content from head + 1, a reused version
// string refused).
import { describe, expect, it } from "vitest"
import { DEFAULT_RULES, DEFAULT_RULES_DOCUMENT } from "./DefaultRules.js"
import { loadRulesOrThrow } from "./Rules.js"
import type { CompiledRules } from "./Rules.js"
import { RulesHistory, canonicalRulesText, planRulesApply, planRulesStart } from "./RulesHistory.js"

const variant = (version: string, taskPoints: number, graceSeconds = 600): CompiledRules =>
  loadRulesOrThrow({ ...DEFAULT_RULES_DOCUMENT, version, period_grace_seconds: graceSeconds, actions: { ...DEFAULT_RULES_DOCUMENT.actions, task_completed: { points: taskPoints } } })

const A = variant("a", 10)
const B = variant("b", 50, 3600)
const C = variant("c", 7, 60)
const at = (rules: CompiledRules, effectiveFromSeq: number, contentHash = rules.version) => ({ rules, effectiveFromSeq, contentHash, recordedAt: "" })

describe("RulesHistory", () => {
  it("scores each seq by the version in force at it, whatever order the versions come in", () => {
    const h = RulesHistory.of([at(C, 200), at(A, 1), at(B, 101)])
    expect([1, 100, 101, 199, 200, 10 ** 9].map((s) => h.rulesAt(s).version)).toEqual(["a", "a", "b", "b", "c", "c"])
    expect(h.rulesAt(0).version).toBe("a") // the first version also covers anything before it
    expect(h.current.rules.version).toBe("c")
    expect(h.versions.map((v) => v.rules.version)).toEqual(["a", "b", "c"])
  })

  it("gives the range a version covers, so a caller looks up only at a switch", () => {
    const h = RulesHistory.of([at(A, 1), at(B, 101)])
    expect(h.rangeAt(50)).toMatchObject({ from: Number.NEGATIVE_INFINITY, to: 101 })
    expect(h.rangeAt(101)).toMatchObject({ from: 101, to: Number.POSITIVE_INFINITY })
    expect(h.rangeAt(101).rules).toBe(B)
  })

  it("lets the last recorded of two versions at one seq win (the earlier scored nothing)", () => {
    const h = RulesHistory.of([at(A, 1), at(B, 101), at(C, 101)])
    expect(h.rulesAt(101).version).toBe("c")
    expect(h.rulesAt(100).version).toBe("a")
    expect(h.versions).toHaveLength(3) // every recorded version stays listed
  })

  it("keeps boards open for the longest grace any version has", () => {
    expect(RulesHistory.of([at(A, 1), at(B, 5), at(C, 9)]).maxPeriodGraceMs).toBe(3_600_000)
    expect(RulesHistory.single(DEFAULT_RULES).maxPeriodGraceMs).toBe(DEFAULT_RULES.periodGraceMs)
    expect(() => RulesHistory.of([])).toThrow()
  })

  it("hashes content, not formatting: the canonical text ignores whitespace and sees every value", () => {
    const doc = DEFAULT_RULES_DOCUMENT
    const reformatted = loadRulesOrThrow(JSON.parse(JSON.stringify(doc, null, 4)))
    expect(canonicalRulesText(reformatted.document)).toBe(canonicalRulesText(DEFAULT_RULES.document))
    expect(canonicalRulesText(variant(doc.version, 11).document)).not.toBe(canonicalRulesText(DEFAULT_RULES.document))
  })
})

describe("planRulesStart", () => {
  const rec = (version: string, contentHash: string, effectiveFromSeq: number) => ({ version, contentHash, effectiveFromSeq })

  it("records the first version ever from seq 1: it scores the whole stream", () => {
    expect(planRulesStart([], { version: "a", contentHash: "h1" }, 500)).toEqual({ _tag: "Record", effectiveFromSeq: 1, first: true })
  })

  it("changes nothing when the file is the version in force", () => {
    expect(planRulesStart([rec("a", "h1", 1), rec("b", "h2", 40)], { version: "b", contentHash: "h2" }, 900)).toEqual({ _tag: "Unchanged" })
  })

  it("records other content from the stream head + 1, also a return to an earlier version", () => {
    expect(planRulesStart([rec("a", "h1", 1)], { version: "b", contentHash: "h2" }, 120)).toEqual({ _tag: "Record", effectiveFromSeq: 121, first: false })
    expect(planRulesStart([rec("a", "h1", 1), rec("b", "h2", 121)], { version: "a", contentHash: "h1" }, 300)).toEqual({ _tag: "Record", effectiveFromSeq: 301, first: false })
  })

  it("takes the last recorded at the head's seq as the one in force", () => {
    expect(planRulesStart([rec("a", "h1", 1), rec("b", "h2", 121), rec("c", "h3", 121)], { version: "c", contentHash: "h3" }, 120)).toEqual({ _tag: "Unchanged" })
  })

  it("refuses a version string recorded with other content, naming both hashes and the fix", () => {
    const p = planRulesStart([rec("a", "aaaaaaaaaaaaaaaa", 1)], { version: "a", contentHash: "bbbbbbbbbbbbbbbb" }, 10)
    expect(p._tag).toBe("Conflict")
    const message = p._tag === "Conflict" ? p.message : ""
    expect(message).toContain("\"a\" is already recorded with other content")
    expect(message).toContain("aaaaaaaaaaaa")
    expect(message).toContain("bbbbbbbbbbbb")
    expect(message).toContain("new version")
  })
})

describe("planRulesStart after `arena rules apply` and planRulesApply", () => {
  const rec = (version: string, contentHash: string, effectiveFromSeq: number, source?: "start" | "apply" | "retroactive") =>
    ({ version, contentHash, effectiveFromSeq, ...(source === undefined ? {} : { source }) })

  it("a start with the file the service ran before an apply is stale: it changes nothing and says why", () => {
    const recorded = [rec("a", "h1", 1, "start"), rec("b", "h2", 51, "apply")]
    const p = planRulesStart(recorded, { version: "a", contentHash: "h1" }, 90)
    expect(p._tag).toBe("Stale")
    expect(p._tag === "Stale" ? p.message : "").toContain("arena rules apply")
  })

  it("a file of an earlier projection is stale after a retroactive switch (known, not in this projection's history)", () => {
    const p = planRulesStart([rec("d", "h4", 1, "retroactive")], { version: "a", contentHash: "h1" }, 90, [{ version: "a", contentHash: "h1" }, { version: "d", contentHash: "h4" }])
    expect(p._tag).toBe("Stale")
  })

  it("a start with never-recorded content after an apply is still a new version from head + 1", () => {
    expect(planRulesStart([rec("a", "h1", 1, "start"), rec("b", "h2", 51, "apply")], { version: "c", contentHash: "h3" }, 90)).toEqual({ _tag: "Record", effectiveFromSeq: 91, first: false })
  })

  it("refuses a version string recorded with other content in another projection", () => {
    const p = planRulesStart([rec("d", "h4", 1, "retroactive")], { version: "a", contentHash: "hX" }, 9, [{ version: "a", contentHash: "h1" }])
    expect(p._tag).toBe("Conflict")
    expect(p._tag === "Conflict" ? p.message : "").toContain("in an earlier projection")
  })

  it("an apply is never stale: applying an older content again records it from head + 1", () => {
    const recorded = [rec("a", "h1", 1, "start"), rec("b", "h2", 51, "apply")]
    expect(planRulesApply(recorded, { version: "a", contentHash: "h1" }, 90)).toEqual({ _tag: "Record", effectiveFromSeq: 91, first: false })
    expect(planRulesApply(recorded, { version: "b", contentHash: "h2" }, 90)).toEqual({ _tag: "Unchanged" })
  })
})
