// Proves level boundaries of §3 (each threshold is the first XP of its level) and level info.
import { describe, expect, it } from "vitest"
import { levelFor, levelInfo, levelInfoAt } from "./Levels.js"
import { DEFAULT_RULES } from "./DefaultRules.js"

const levels = DEFAULT_RULES.levels

describe("levels", () => {
  it.each([[100, 2], [300, 3], [700, 4], [1200, 5], [2500, 6], [5000, 7], [10000, 8]])(
    "%i XP is level %i and one XP less is the level below",
    (xp, level) => {
      expect(levelFor(levels, xp)).toBe(level)
      expect(levelFor(levels, xp - 1)).toBe(level - 1)
    }
  )
  it("starts at level 1 and stays at 8 beyond the table", () => {
    expect(levelFor(levels, 0)).toBe(1)
    expect(levelFor(levels, 1_000_000)).toBe(8)
  })
  it("reports XP into the level and XP still needed for the next", () => {
    expect(levelInfo(levels, 350)).toEqual({ number: 3, title: "Adept", xp_into_level: 50, xp_for_next: 350 })
    expect(levelInfo(levels, 0)).toEqual({ number: 1, title: "Novice", xp_into_level: 0, xp_for_next: 100 })
    expect(levelInfo(levels, 12_345)).toEqual({ number: 8, title: "Legend", xp_into_level: 2345, xp_for_next: null })
  })
  it("levelInfoAt is the info of a stored level in the table of the version that gave it, and levelInfo's when that is the total's", () => {
    for (const xp of [0, 99, 100, 350, 699, 9_999, 12_345]) expect(levelInfoAt(levels, levelFor(levels, xp), xp)).toEqual(levelInfo(levels, xp))
    expect(levelInfoAt(levels, 2, 290)).toEqual({ number: 2, title: "Apprentice", xp_into_level: 190, xp_for_next: 10 })
  })
})
