// Waves of events and live feeds on a partitioned gateway, for the cluster tests of its feeds
// (partitionedAroundMe, partitionedGroupFeed): `post` sends each user's events through
// POST /v1/events (10 XP each) and records what the stream holds, so a test knows each user's XP and
// whether a frame's seq is honest (`owed`: the XP of a user's events stored at or before a seq);
// `follow` opens a feed, asking again on a 503 (a partition handed over meanwhile) as Retry-After says.
import { expect } from "vitest"
import { openWs } from "../gateway/client.js"
import type { WsReader } from "../gateway/client.js"
import type { gatewayClient } from "./gatewayClient.js"

type Client = Pick<ReturnType<typeof gatewayClient>, "call" | "until" | "port">

export const feedWaves = (client: Client, id: string) => {
  const { call, until, port } = client
  /** Every event stored: its user and seq. */
  const stored: Array<{ user: string; seq: number }> = []
  /** Each user's XP from the events posted. */
  const xp = new Map<string, number>()
  /** Every socket opened (the test terminates them). */
  const sockets: Array<WsReader<unknown>> = []
  let n = 0
  const post = async (producer: string, counts: Record<string, number>): Promise<void> => {
    const events = Object.entries(counts).flatMap(([u, k]) => Array.from({ length: k }, () => ({
      event_id: `${id}-${n++}`, user_id: u, username: u, agent_name: "cursor", action_type: "task_completed", timestamp: new Date().toISOString()
    })))
    const r = await call<{ accepted: number; results: Array<{ event_id: string; seq: number }> }>("POST", "/v1/events", producer, events)
    expect(r).toMatchObject({ status: 202, body: { accepted: events.length } })
    r.body.results.forEach((res, i) => stored.push({ user: events[i]!.user_id, seq: res.seq }))
    for (const [u, k] of Object.entries(counts)) xp.set(u, (xp.get(u) ?? 0) + 10 * k)
  }
  const owed = (user: string, seq: number): number => 10 * stored.filter((x) => x.user === user && x.seq <= seq).length
  const follow = async <M>(p: string): Promise<WsReader<M>> => {
    const ws = await until(`${p} opened`, () => openWs<M>(`ws://127.0.0.1:${port()}${p}`).catch((e: { status?: number }) => {
      if (e.status === 503) return undefined
      throw e
    }))
    sockets.push(ws as WsReader<unknown>)
    return ws
  }
  return { stored, xp, sockets, post, owed, follow }
}
