// The DLQ adapter against a port double (a JetStream client whose publish fails on demand): an outage
// longer than the old 21-attempt budget loses no letter — `settled` keeps failing, with the reason,
// until the letter is stored, then succeeds — and a letter too big for one NATS message is sent
// without its body instead of never. The same against the real service: test/reliability/deadLetters.test.ts.
import { describe, expect, it } from "vitest"
import type { JetStreamClient } from "@nats-io/jetstream"
import type { MsgHdrs } from "@nats-io/transport-node"
import { Effect, Exit, Schedule } from "effect"
import { DeadLetters } from "./DeadLetters.js"

interface Stored { msgID: string; data: Uint8Array; headers: MsgHdrs }

/** A JetStream double: refuses while `down`, refuses messages over `maxPayload`, counts attempts. */
const double = (maxPayload = 1024 * 1024) => {
  const d = {
    down: false,
    attempts: 0,
    stored: [] as Array<Stored>,
    js: {
      publish: async (_subject: string, data: Uint8Array, o: { msgID: string; headers: MsgHdrs }) => {
        d.attempts++
        if (d.down) throw Object.assign(new Error("no responders"), { name: "NoRespondersError" })
        if (data.length + 700 > maxPayload) throw new Error("maximum payload exceeded")
        if (!d.stored.some((s) => s.msgID === o.msgID)) d.stored.push({ msgID: o.msgID, data, headers: o.headers })
        return { seq: d.stored.length, duplicate: false, stream: "DLQ" }
      }
    } as unknown as JetStreamClient
  }
  return d
}

const fast = Schedule.spaced("1 millis")
const until = async (cond: () => boolean) => {
  for (let i = 0; i < 5000 && !cond(); i++) await new Promise((r) => setTimeout(r, 1))
  if (!cond()) throw new Error("condition never became true")
}

describe("DeadLetters", () => {
  it("keeps a letter through an outage longer than any retry budget: settled fails until it is stored, never clears the failure", async () => {
    const d = double()
    const dl = new DeadLetters(d.js, "dlq", { maxPayload: () => 1024 * 1024, retry: fast })
    d.down = true
    dl.publish(7, "invalid_event", "bad", new TextEncoder().encode("{\"x\":1}"))
    // Far past the 21 attempts after which the old adapter reported once and forgot the letter.
    await until(() => dl.health.attempts >= 50)
    for (let i = 0; i < 3; i++) {
      const exit = await Effect.runPromiseExit(dl.settled)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(String(Exit.isFailure(exit) ? exit.cause : "")).toMatch(/1 dead letter\(s\) not stored after \d+ attempt\(s\), the oldest at seq 7/)
    }
    expect(dl.health).toMatchObject({ unstored: 1 })
    expect(d.stored).toEqual([])
    d.down = false
    await Effect.runPromise(dl.settled.pipe(Effect.retry(fast)))
    expect(d.stored.map((s) => [s.msgID, s.headers.get("Arena-Seq"), new TextDecoder().decode(s.data)])).toEqual([["dlq:7", "7", "{\"x\":1}"]])
    expect(dl.health).toEqual({ unstored: 0, attempts: 0, lastError: null })
    dl.close()
  })

  it("names the partition whose consumer refused the message in partitioned mode (Arena-Partition), and none in single-process mode", async () => {
    const d = double()
    const part = new DeadLetters(d.js, "dlq", { maxPayload: () => 1024 * 1024, retry: fast, partition: 5 })
    const single = new DeadLetters(d.js, "dlq", { maxPayload: () => 1024 * 1024, retry: fast })
    part.publish(3, "subject_user_mismatch", "wrong partition", new Uint8Array([1]))
    single.publish(4, "invalid_event", "bad", new Uint8Array([1]))
    await Effect.runPromise(part.settled)
    await Effect.runPromise(single.settled)
    expect(d.stored.map((s) => [s.msgID, s.headers.get("Arena-Partition")])).toEqual([["dlq:3", "5"], ["dlq:4", ""]])
    part.close()
    single.close()
  })

  it("settled waits for letters published before it, not for later ones", async () => {
    const d = double()
    const dl = new DeadLetters(d.js, "dlq", { maxPayload: () => 1024 * 1024, retry: fast })
    for (let s = 1; s <= 600; s++) dl.publish(s, "invalid_event", "bad", new Uint8Array([1]))
    await Effect.runPromise(dl.settled)
    expect(d.stored.length).toBeGreaterThanOrEqual(600)
    dl.close()
  })

  it("sends a letter whose original plus headers exceeds max_payload without its body, naming its size", async () => {
    const d = double()
    const dl = new DeadLetters(d.js, "dlq", { maxPayload: () => 1024 * 1024, retry: fast })
    const big = new Uint8Array(1024 * 1024 - 200).fill(0x61)
    const fits = new Uint8Array(600 * 1024).fill(0x62)
    dl.publish(1, "oversized", "event is 1048376 bytes", big)
    dl.publish(2, "oversized", "event is 614400 bytes", fits)
    await Effect.runPromise(dl.settled)
    const [a, b] = d.stored
    expect([a?.msgID, a?.data.length, a?.headers.get("Arena-Body-Omitted")]).toEqual(["dlq:1", 0, expect.stringMatching(/^1048376 bytes/)])
    expect([b?.msgID, b?.data.length, b?.headers.get("Arena-Body-Omitted")]).toEqual(["dlq:2", 600 * 1024, ""])
    dl.close()
  })

  it("drops the body of a letter the server refuses for its size (a smaller max_payload than announced)", async () => {
    const d = double(64 * 1024)
    const dl = new DeadLetters(d.js, "dlq", { maxPayload: () => 1024 * 1024, retry: fast })
    dl.publish(3, "oversized", "big", new Uint8Array(100 * 1024))
    await Effect.runPromise(dl.settled.pipe(Effect.retry(fast)))
    expect(d.stored.map((s) => [s.msgID, s.data.length])).toEqual([["dlq:3", 0]])
    dl.close()
  })
})
