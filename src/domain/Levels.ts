// Levels by total XP (ARCHITECTURE §3): the level a total reaches and the profile's level info.
import type { LevelDef } from "./Rules.js"

/** The level number reached with `totalXp` (levels ascending by xp, the first at 0 XP). */
export const levelFor = (levels: ReadonlyArray<LevelDef>, totalXp: number): number => {
  let level = 1
  for (let i = 1; i < levels.length; i++) {
    if (levels[i]!.xp > totalXp) break
    level = i + 1
  }
  return level
}

export interface LevelInfo {
  readonly number: number
  readonly title: string
  /** XP earned since reaching this level. */
  readonly xp_into_level: number
  /** XP still needed to reach the next level; null at the top level. */
  readonly xp_for_next: number | null
}

/**
 * The level info of a stored level number (what the user's last scored message gave them, §10):
 * title and thresholds from `levels`, the table of the version that scored that message.
 */
export const levelInfoAt = (levels: ReadonlyArray<LevelDef>, level: number, totalXp: number): LevelInfo => {
  const n = Math.min(Math.max(level, 1), levels.length)
  const cur = levels[n - 1]!
  const next = levels[n]
  return {
    number: n,
    title: cur.title,
    xp_into_level: totalXp - cur.xp,
    xp_for_next: next === undefined ? null : next.xp - totalXp
  }
}

/** The level info of the level `totalXp` reaches in `levels`. */
export const levelInfo = (levels: ReadonlyArray<LevelDef>, totalXp: number): LevelInfo =>
  levelInfoAt(levels, levelFor(levels, totalXp), totalXp)

/** Title of a level number (for notifications); the top title beyond the table. */
export const levelTitle = (levels: ReadonlyArray<LevelDef>, level: number): string =>
  (levels[Math.min(Math.max(level, 1), levels.length) - 1]!).title
