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
  it("partitioned mode says clearly that it is not implemented yet, for every role", () => {
    for (const r of ["all", "processor", "gateway"] as const) {
      const p = planServe(r, 8)
      expect(p._tag === "Refused" && p.message).toMatch(/^partitioned mode \(ARENA_PARTITIONS=8, --role \w+\) is not implemented yet/)
    }
  })
})
