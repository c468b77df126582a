// The subscription mix of the fan-out bench: socket k → (board, limit). Half on `global`, the
// rest spread over the 20 agent boards; limits 10/25/50/100 (clients use a few common sizes).
import { AGENTS } from "../../dist/cli/Producer.js"

export const LIMITS = [10, 25, 50, 100]

export const planOf = (k) => ({
  board: k % 2 === 0 ? "global" : `agent:${AGENTS[(k >> 1) % AGENTS.length]}`,
  limit: LIMITS[Math.floor(k / 40) % LIMITS.length]
})

export const topicOf = (p) => `${p.board}|${p.limit}`

export const pathOf = (p) => `/ws/leaderboard/${encodeURIComponent(p.board)}?window=all&limit=${p.limit}`

/** Every topic the first `n` sockets use, with how many sockets each has. */
export const topicCounts = (n, offset = 0) => {
  const m = new Map()
  for (let k = offset; k < offset + n; k++) { const t = topicOf(planOf(k)); m.set(t, (m.get(t) ?? 0) + 1) }
  return m
}
