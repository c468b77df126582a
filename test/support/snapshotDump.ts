// Reads the snapshot a run left in Postgres the way `arena serve` loads it (binary chunks, and any
// pre-chunk JSON rows, into a fresh user table) and dumps every user's whole state, for tests that
// compare two runs or check one user. Uses the service's own codec: what it checks is what a
// restart would load.
import type { Sql } from "postgres"
import type { UserState } from "../../src/domain/Model.js"
import { DEFAULT_RULES } from "../../src/domain/DefaultRules.js"
import { newEngineState } from "../../src/domain/engine/EngineState.js"
import { dumpUser } from "../../src/domain/engine/UserViews.js"
import type { UserDump } from "../../src/domain/engine/UserViews.js"
import { loadLegacyUser } from "../../src/domain/state/LegacySnapshot.js"
import { loadChunk } from "../../src/domain/state/SnapshotCodec.js"

export interface SnapshotDump {
  readonly checkpoint: number
  /** [user_id, state] sorted by user id. */
  readonly users: ReadonlyArray<readonly [string, UserDump]>
}

export const snapshotDump = async (sql: Sql): Promise<SnapshotDump> => {
  const cp = await sql<{ seq: string; stream_time_ms: string }[]>`SELECT seq, stream_time_ms FROM arena_checkpoint`
  const streamTimeMs = Number(cp[0]?.stream_time_ms ?? 0)
  const s = newEngineState(DEFAULT_RULES.periodGraceMs)
  for (const r of await sql<{ state: string }[]>`SELECT state FROM arena_user_state`) loadLegacyUser(s, JSON.parse(r.state) as UserState, streamTimeMs)
  for (const r of await sql<{ data: Uint8Array }[]>`SELECT data FROM arena_snapshot_chunk ORDER BY id`) loadChunk(s, r.data, { streamTimeMs })
  const users: Array<readonly [string, UserDump]> = []
  for (let uid = 0; uid < s.users.capacity; uid++) if (s.users.has(uid)) users.push([s.users.userId(uid), dumpUser(s, uid)])
  users.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  return { checkpoint: Number(cp[0]?.seq ?? 0), users }
}

/** One user's state in the snapshot, or null. */
export const snapshotUser = async (sql: Sql, userId: string): Promise<UserDump | null> =>
  (await snapshotDump(sql)).users.find(([id]) => id === userId)?.[1] ?? null
