// Board names and keys, in one place: `global` and `agent:<name>` boards, the `board|window|period`
// key string that identifies a board instance, and the period-score keys of UserState.periods.
import type { BoardKey, Window } from "./Model.js"

export const GLOBAL_BOARD = "global"
const AGENT_PREFIX = "agent:"

/** A board name the API accepts: `global`, `agent:<agent_name>` (agent names as events allow them) or `group:<group_id>`. */
export const BOARD_NAME = /^(global|agent:[a-z0-9-]{1,64}|group:[A-Za-z0-9._-]{1,64})$/

/** A group id (PUT /v1/groups/{group_id}); its board is `group:<group_id>`. */
export const GROUP_ID = /^[A-Za-z0-9._-]{1,64}$/
const GROUP_PREFIX = "group:"
export const groupBoard = (groupId: string): string => GROUP_PREFIX + groupId
/** The group id of a `group:<id>` board name, or null for any other board. */
export const groupIdOf = (board: string): string | null => (board.startsWith(GROUP_PREFIX) ? board.slice(GROUP_PREFIX.length) : null)

const boardNames = new Map<string, string>()
/** `agent:<name>`, memoized (bounded) so boards receive the same flat string every time. */
export const agentBoard = (agent: string): string => {
  let b = boardNames.get(agent)
  if (b === undefined) {
    b = AGENT_PREFIX + agent
    if (boardNames.size < 4096) boardNames.set(agent, b)
  }
  return b
}

/** The string that identifies one board instance (board × window × period). */
export const boardKeyOf = (board: string, window: Window, period: string): string => board + "|" + window + "|" + period
export const boardKeyString = (k: BoardKey): string => boardKeyOf(k.board, k.window, k.period)

const WINDOW_NAMES: ReadonlyArray<string> = ["all", "day", "week", "month"]

/** The board instance a boardKeyString names, or null when it is not one. */
export const parseBoardKeyString = (s: string): BoardKey | null => {
  const [board, window, period, extra] = s.split("|")
  if (board === undefined || window === undefined || period === undefined || extra !== undefined || !WINDOW_NAMES.includes(window)) return null
  return { board, window: window as Window, period }
}

export interface PeriodScoreKey {
  readonly window: Exclude<Window, "all">
  readonly period: string
  readonly board: string
}

const periodKeys = new Map<string, PeriodScoreKey | null>()

/**
 * Parse a (pre-table JSON) UserState.periods key: `${window}:${period}` (global board) or
 * `${window}:${period}:${agent}` (that agent's board); null for anything else.
 */
export const parsePeriodKey = (key: string): PeriodScoreKey | null => {
  // Memoized (bounded): a snapshot load parses the same few keys for every user.
  let k = periodKeys.get(key)
  if (k === undefined) {
    const [window, period, agent] = key.split(":")
    k = (window !== "day" && window !== "week" && window !== "month") || period === undefined
      ? null
      : { window, period, board: agent === undefined ? GLOBAL_BOARD : agentBoard(agent) }
    if (periodKeys.size >= 4096) periodKeys.clear()
    periodKeys.set(key, k)
  }
  return k
}
