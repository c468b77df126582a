import { describe, expect, it } from "vitest"
import { parseServeRole, planServe } from "./ServeRole.js"

describe("arena serve --role", () => {
  it("defaults to all and accepts the three roles", () => {
    expect(parseServeRole(undefined)).toEqual({ role: "all" })
    for (const r of ["all", "processor", "gateway"]) expect(parseServeRole(r)).toEqual({ role: r })
  })
  it("refuses anything else, naming the flag and the choices", () => {
    expect(parseServeRole("worker")).toEqual({ error: '--role must be one of all, processor, gateway (got "worker")' })
    expect(parseServeRole(true)).toEqual({ error: "--role must be one of all, processor, gateway (it needs a value)" })
  })
  it("all without ARENA_PARTITIONS is today's single process, unchanged", () => {
    expect(planServe("all", undefined)).toEqual({ _tag: "SingleProcess" })
  })
  it("processor and gateway need ARENA_PARTITIONS", () => {
    for (const r of ["processor", "gateway"] as const) {
      const p = planServe(r, undefined)
      expect(p._tag).toBe("Refused")
      expect(p._tag === "Refused" && p.message).toContain(`--role ${r} runs only in partitioned mode: set ARENA_PARTITIONS`)
    }
  })
  it("ARENA_PARTITIONS set: partitioned mode for every role", () => {
    for (const r of ["all", "processor", "gateway"] as const) expect(planServe(r, 8)).toEqual({ _tag: "Partitioned", role: r, partitions: 8 })
  })
  it("partitioned mode refuses another subject prefix: the servers' mapping is on arena.xp.events.*", () => {
    const p = planServe("processor", 8, "test.xp")
    expect(p._tag === "Refused" && p.message).toContain("needs ARENA_SUBJECT_PREFIX=arena.xp (got test.xp)")
  })
})
