// Stream provisioning from streams/*.json against real JetStream: created when missing, left alone
// when equal, updated in place when a setting may change, and a clear error (never silence) when
// the live stream differs in a way that cannot be changed in place.
import { afterAll, beforeAll, expect, it } from "vitest"
import { Effect } from "effect"
import { StorageType } from "@nats-io/jetstream"
import { provisionStreams } from "../../src/adapters/nats/Streams.js"
import { freshNames, natsClient } from "../support/arena.js"
import type { Nats } from "../support/arena.js"

let nats: Nats
const names = freshNames("str")
const config = { stream: names.stream, subjectPrefix: names.prefix, duplicateWindowMs: 24 * 3_600_000 }

beforeAll(async () => { nats = await natsClient() })
afterAll(async () => {
  for (const s of [names.stream, names.dlqStream]) await nats.jsm.streams.delete(s).catch(() => false)
  await nats.nc.close()
})

it("creates, then leaves alone, then updates the duplicate window in place", async () => {
  expect(await Effect.runPromise(provisionStreams(nats.jsm, config))).toEqual([
    `stream ${names.stream}: created (${names.subject}, ${names.subject}.>, ${names.prefix}.corrections, ${names.prefix}.settings, ${names.prefix}.erasures)`,
    `stream ${names.dlqStream}: created (${names.prefix}.dlq)`
  ])
  expect(await Effect.runPromise(provisionStreams(nats.jsm, config))).toEqual([`stream ${names.stream}: up to date`, `stream ${names.dlqStream}: up to date`])
  const lines = await Effect.runPromise(provisionStreams(nats.jsm, { ...config, duplicateWindowMs: 120_000 }))
  expect(lines[0]).toBe(`stream ${names.stream}: updated (duplicate_window 86400s → 120s)`)
  expect((await nats.jsm.streams.info(names.stream)).config.duplicate_window).toBe(120_000 * 1_000_000)
})

it("refuses, naming the difference, a stream whose storage cannot be changed in place", async () => {
  const other = freshNames("str2")
  await nats.jsm.streams.add({ name: other.stream, subjects: [other.subject], storage: StorageType.Memory })
  try {
    const exit = await Effect.runPromiseExit(provisionStreams(nats.jsm, { stream: other.stream, subjectPrefix: other.prefix, duplicateWindowMs: 60_000 }))
    expect(exit._tag).toBe("Failure")
    expect(String(exit._tag === "Failure" ? exit.cause : "")).toMatch(/cannot be changed in place \(storage memory → file/)
  } finally {
    await nats.jsm.streams.delete(other.stream).catch(() => false)
  }
})

it("adds the corrections, settings and erasures subjects to an event stream made before they existed, keeping its messages", async () => {
  const old = freshNames("str3")
  await nats.jsm.streams.add({ name: old.stream, subjects: [old.subject, `${old.subject}.>`], storage: StorageType.File, duplicate_window: 24 * 3_600_000 * 1_000_000 })
  try {
    await nats.js.publish(old.subject, "{}", { msgID: "kept" })
    const lines = await Effect.runPromise(provisionStreams(nats.jsm, { stream: old.stream, subjectPrefix: old.prefix, duplicateWindowMs: 24 * 3_600_000 }))
    expect(lines[0]).toMatch(new RegExp(`^stream ${old.stream}: updated \\(subjects .* → .*${old.prefix.replace(/\./g, "\\.")}\\.corrections`))
    const info = await nats.jsm.streams.info(old.stream)
    expect([...info.config.subjects].sort()).toEqual([old.subject, `${old.subject}.>`, `${old.prefix}.corrections`, `${old.prefix}.settings`, `${old.prefix}.erasures`].sort())
    expect(info.state.messages).toBe(1)
    const ack = await nats.js.publish(`${old.prefix}.corrections`, "{}", { msgID: "c-1" })
    expect(ack.seq).toBe(2) // captured by the same stream: one seq order for events and corrections
  } finally {
    for (const s of [old.stream, old.dlqStream]) await nats.jsm.streams.delete(s).catch(() => false)
  }
})
