// The stream side of an erasure against real JetStream, resumed after a crash: a kill -9 between
// erasing some of a user's messages and recording the step leaves messages that are already gone
// when the erasure runs again. nats-server answers those with "sequence N not found" (err_code
// 10043), which must count as erased; the soak run B1/stop 21 retried such a message forever and
// the erasure never finished. A sequence past the end of the stream is still an error.
import { afterAll, beforeAll, expect, it } from "vitest"
import { Effect } from "effect"
import { jetstream } from "@nats-io/jetstream"
import { provisionStreams } from "../../src/adapters/nats/Streams.js"
import { makeErasureStream } from "../../src/adapters/nats/ErasureStream.js"
import { freshNames, natsClient } from "../support/arena.js"
import type { Nats } from "../support/arena.js"

let nats: Nats
const names = freshNames("ers")

beforeAll(async () => {
  nats = await natsClient()
  await Effect.runPromise(provisionStreams(nats.jsm, { stream: names.stream, subjectPrefix: names.prefix, duplicateWindowMs: 120_000 }))
})
afterAll(async () => {
  for (const s of [names.stream, names.dlqStream]) await nats.jsm.streams.delete(s).catch(() => false)
  await nats.nc.close()
})

it("erasing messages already erased (a run cut short by kill -9) counts them as gone and finishes", async () => {
  const js = jetstream(nats.nc)
  for (let i = 0; i < 6; i++) await js.publish(names.subject, JSON.stringify({ user_id: "u", i }))
  const stream = makeErasureStream(js, nats.jsm, {
    events: names.stream,
    deadLetters: names.dlqStream,
    subject: `${names.prefix}.erasures`,
    settingsSubject: `${names.prefix}.settings`
  })
  // The first run erased 2 and 4, then the process died before it recorded the step.
  expect(await stream.erase("events", [2, 4])).toBe(2)
  // The resumed run erases the whole list again: the two already gone count as erased, the rest go.
  expect(await stream.erase("events", [2, 3, 4, 5])).toBe(2)
  const info = await nats.jsm.streams.info(names.stream)
  expect(info.state.messages).toBe(2)
  for (const seq of [1, 6]) expect((await nats.jsm.streams.getMessage(names.stream, { seq }))?.seq).toBe(seq)
  // A sequence the stream never held is not "already erased": the error names it.
  await expect(stream.erase("events", [99])).rejects.toThrow(/erasing message 99 of/)
})
