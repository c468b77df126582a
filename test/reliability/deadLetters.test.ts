// Dead letters are never lost (ARCHITECTURE §2.4, issue 11 item 1), against `arena serve` with real
// NATS, Postgres and ClickHouse: the DLQ stream is deleted for longer than the old retry budget
// (21 attempts) while a bad event is dead-lettered — no snapshot commits past it, /readyz says why,
// and once the stream is back the letter is stored and snapshots resume. An event near the 1 MiB
// stream limit still becomes a letter (its body omitted: it would not fit NATS's max_payload with
// the headers; the original stays in the event stream at Arena-Seq).
import { afterAll, beforeAll, expect, it } from "vitest"
import { desiredStreams } from "../../src/adapters/nats/Streams.js"
import { ArenaProcess, cleanup, db, freshNames, natsClient, publishAll, sleep } from "../support/arena.js"
import type { Nats } from "../support/arena.js"

const names = freshNames("dlqout")
const arena = new ArenaProcess(names, { ARENA_SNAPSHOT_INTERVAL: "200ms" })
let nats: Nats

beforeAll(async () => {
  nats = await natsClient()
  await arena.start()
  await arena.waitForSeq(0)
})
afterAll(async () => {
  await arena.kill()
  await nats?.nc.close()
  await cleanup(names)
})

type Ready = { ready: boolean; reasons: Array<string>; details: { seq?: number; snapshot_seq?: number; dead_letter_attempts?: number; dead_letters_unstored?: number } }
const readyz = async (): Promise<Ready> => (await arena.readyz()).body as Ready
const until = async <T>(what: string, f: () => Promise<T | null | false>, timeoutMs = 60_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await f()
    if (v !== null && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out: ${what}\n${arena.log.slice(-2000)}`)
    await sleep(100)
  }
}

const ev = (id: string, extra: Record<string, unknown> = {}) =>
  ({ event_id: id, user_id: "dl-user", agent_name: "claude", action_type: "task_completed", timestamp: new Date().toISOString(), ...extra })

/** The letter for `seq`, or null (read by sequence from the DLQ's own subject index). */
const letter = async (seq: number) => {
  const info = await nats.jsm.streams.info(names.dlqStream).catch(() => null)
  if (info === null || info.state.messages === 0) return null
  for (let s = info.state.first_seq; s <= info.state.last_seq; s++) {
    const m = await nats.jsm.streams.getMessage(names.dlqStream, { seq: s }).catch(() => null)
    if (m !== null && m.header.get("Nats-Msg-Id") === `dlq:${seq}`) return m
  }
  return null
}

it("dead-letters an event near the 1 MiB stream limit: a letter without its body that names the original's size", async () => {
  // As big as the event stream takes: 1 MiB including its header block ("NATS/1.0", Nats-Msg-Id: huge).
  const bare = JSON.stringify(ev("huge", { metadata: { pad: "" } }))
  const body = JSON.stringify(ev("huge", { metadata: { pad: "x".repeat(1024 * 1024 - 31 - bare.length) } }))
  expect(body.length).toBe(1024 * 1024 - 31)
  const mid = JSON.stringify(ev("mid", { metadata: { pad: "y".repeat(600 * 1024) } }))
  const [huge, fits] = await publishAll(nats.js, names.subject, [{ raw: body, msgId: "huge" }, { raw: mid, msgId: "mid" }])
  await arena.waitForSeq(fits!.seq)
  const a = await until("the huge letter", () => letter(huge!.seq))
  expect([a.header.get("Arena-Reason"), a.header.get("Arena-Seq"), a.data.length]).toEqual(["oversized", String(huge!.seq), 0])
  expect(a.header.get("Arena-Body-Omitted")).toMatch(new RegExp(`^${body.length} bytes`))
  // The original is where the letter says.
  expect((await nats.jsm.streams.getMessage(names.stream, { seq: huge!.seq }))?.data.length).toBe(body.length)
  // A letter that fits keeps its body.
  const b = await until("the mid letter", () => letter(fits!.seq))
  expect([b.header.get("Arena-Reason"), b.header.get("Arena-Body-Omitted"), b.string()]).toEqual(["oversized", "", mid])
  await until("a snapshot past both", async () => ((await readyz()).details.snapshot_seq ?? 0) >= fits!.seq)
}, 120_000)

it("never commits a snapshot past a letter the DLQ does not hold, through an outage longer than the old retry budget", async () => {
  const dlqConfig = desiredStreams({ stream: names.stream, subjectPrefix: names.prefix, duplicateWindowMs: 24 * 3600_000 }).find((s) => s.name === names.dlqStream)!
  await nats.jsm.streams.delete(names.dlqStream)
  const acks = await publishAll(nats.js, names.subject, [ev("before"), ev("bad", { action_type: "no_such_action" }), ev("after-1"), ev("after-2")])
  const bad = acks[1]!.seq, head = acks[3]!.seq

  /** Snapshot first, then the DLQ: a snapshot at or past `bad` must find the letter already stored. */
  const check = async () => {
    const r = await readyz()
    const stored = (await letter(bad)) !== null
    if ((r.details.snapshot_seq ?? 0) >= bad) expect(stored, `snapshot at seq ${r.details.snapshot_seq} committed past the unstored letter for seq ${bad}`).toBe(true)
    return { r, stored }
  }
  // The outage outlasts the 21 publish attempts after which the old adapter gave the letter up.
  const down = await until("22 failed attempts reported", async () => {
    const { r } = await check()
    return (r.details.dead_letter_attempts ?? 0) >= 22 && (r.details.seq ?? 0) >= head ? r : null
  }, 180_000)
  expect(down.ready).toBe(false)
  expect(down.reasons).toEqual([expect.stringMatching(/^dead letters: 1 not stored after \d+ attempt\(s\), still retrying; snapshots wait for them \(storing dead letters: .+\)$/)])
  expect(down.details.dead_letters_unstored).toBe(1)
  expect(down.details.snapshot_seq).toBeLessThan(bad)

  await nats.jsm.streams.add(dlqConfig)
  const up = await until("the letter stored and a snapshot at the head", async () => {
    const { r, stored } = await check()
    return stored && (r.details.snapshot_seq ?? 0) >= head && r.ready ? r : null
  })
  expect(up.reasons).toEqual([])
  const l = (await letter(bad))!
  expect([l.header.get("Arena-Reason"), l.header.get("Arena-Seq")]).toEqual(["unknown_action", String(bad)])
  expect((await nats.jsm.streams.info(names.dlqStream)).state.messages).toBe(1)
  const sql = db(names)
  const [cp] = await sql`SELECT seq FROM arena_checkpoint`
  await sql.end()
  expect(Number(cp?.seq)).toBeGreaterThanOrEqual(head)
  expect(await arena.stop()).toBe(0)
}, 300_000)
