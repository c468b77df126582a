// A condition no retry can fix is reported as fatal, at once: the stream recreated under a snapshot
// (snapshot_mismatch). `arena serve` stops retrying, logs it once, and /readyz answers 503 with
// `"fatal": true` and the operator's sentence — what scripts/up.sh waits on (test/scripts/waitReady).
// Also while it runs: a stream recreated under the running pipeline fails the run, the real
// supervisor restarts it, and the restart stops on the mismatch (it used to stay "ready" forever,
// never reading the new stream).
import { afterAll, beforeAll, expect, it } from "vitest"
import { ArenaProcess, cleanup, freshNames, natsClient, publishAll, sleep } from "../support/arena.js"
import type { Nats } from "../support/arena.js"

const names = freshNames("fatal")
const arena = new ArenaProcess(names)
let nats: Nats

beforeAll(async () => {
  nats = await natsClient()
})
afterAll(async () => {
  await arena.kill()
  await nats?.nc.close()
  await cleanup(names)
})

interface Ready { ready: boolean; fatal: boolean; reasons: Array<string>; details: { snapshot_seq?: number } }

it("reports a stream recreated under a snapshot as fatal on /readyz and in the log, and does not retry", async () => {
  await arena.start()
  const events = Array.from({ length: 20 }, (_, i) => ({
    event_id: `fatal-${i}`, user_id: `u${i % 3}`, agent_name: "a", action_type: "task_completed", timestamp: new Date().toISOString()
  }))
  await publishAll(nats.js, names.subject, events)
  // A snapshot at the head, so Postgres holds a checkpoint that names this stream.
  await arena.waitForSeq(20)
  let r = (await arena.readyz()).body as unknown as Ready
  for (let i = 0; i < 200 && r.details.snapshot_seq !== 20; i++) {
    await sleep(50)
    r = (await arena.readyz()).body as unknown as Ready
  }
  expect(r).toMatchObject({ ready: true, fatal: false, details: { snapshot_seq: 20 } })
  await arena.stop()

  // Recreate the stream: same name, a new creation time; the snapshot no longer belongs to it.
  await nats.jsm.streams.delete(names.stream)
  await arena.start()
  let answer: { status: number; body: Ready } = { status: 0, body: r }
  for (let i = 0; i < 600 && !answer.body.fatal; i++) {
    answer = (await arena.readyz()) as unknown as typeof answer
    if (!answer.body.fatal) await sleep(50)
  }
  expect(answer.status).toBe(503)
  expect(answer.body.ready).toBe(false)
  expect(answer.body.fatal).toBe(true)
  // The fatal reason comes first (others, e.g. ClickHouse still starting, may follow).
  expect(answer.body.reasons[0]).toMatch(/^fatal, not retried: the snapshot in Postgres belongs to stream \S+ created .*: the stream was recreated\. Point DATABASE_URL at a fresh database \(or drop this one\) to rebuild from the stream\.$/)
  expect(arena.log).toMatch(/FATAL, not retrying \(an operator must fix this, then restart the service\): the snapshot in Postgres belongs to stream/)
  // Not retried: over the next second (the supervisor's first backoffs are 250 and 500 ms) nothing
  // tries to start the pipeline again, and it stays fatal.
  for (let i = 0; i < 10; i++) {
    await sleep(100)
    expect((await arena.readyz()).body).toMatchObject({ ready: false, fatal: true })
  }
  expect(arena.log.match(/FATAL, not retrying/g)).toHaveLength(1)
  expect(arena.log).not.toMatch(/pipeline could not start/)
})

it("fails a run whose stream is recreated under it; the supervisor's restart then stops on the mismatch", async () => {
  const live = freshNames("fatalb")
  const b = new ArenaProcess(live)
  try {
    await b.start()
    const ev = (i: number) => ({ event_id: `live-${i}`, user_id: `u${i % 2}`, agent_name: "a", action_type: "task_completed", timestamp: new Date().toISOString() })
    await publishAll(nats.js, live.subject, Array.from({ length: 5 }, (_, i) => ev(i)))
    await b.waitForSeq(5)
    for (let i = 0; i < 200 && ((await b.readyz()).body.details.snapshot_seq ?? 0) < 5; i++) await sleep(50)
    expect((await b.readyz()).body.details.snapshot_seq).toBe(5)
    // Recreated while the service runs: same name and configuration, a new creation time.
    const config = (await nats.jsm.streams.info(live.stream)).config
    await nats.jsm.streams.delete(live.stream)
    await nats.jsm.streams.add(config)
    await publishAll(nats.js, live.subject, Array.from({ length: 3 }, (_, i) => ev(100 + i)))
    let answer = await b.readyz()
    for (let i = 0; i < 600 && !(answer.body as unknown as Ready).fatal; i++) {
      await sleep(50)
      answer = await b.readyz()
    }
    expect(answer.status).toBe(503)
    expect(answer.body).toMatchObject({ ready: false, fatal: true })
    expect(b.log).toMatch(/pipeline failed, restarting from the last snapshot: actor consumer failed: stream \S+ was recreated under the running pipeline/)
    expect(b.log).toMatch(/FATAL, not retrying \(an operator must fix this, then restart the service\): the snapshot in Postgres belongs to stream/)
  } finally {
    await b.kill()
    await cleanup(live)
  }
})
