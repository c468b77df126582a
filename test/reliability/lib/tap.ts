// A tap on the event stream: an ordered consumer from seq 1 that keeps every message as JetStream
// stored it (seq, JetStream time, Nats-Msg-Id, subject, bytes), read as it arrives. Erasures take
// messages out of the stream later (ARCHITECTURE §11); the tap keeps the stream as it was, so the
// oracle can fold it with the erasure messages in it, and whole() proves it missed nothing.
import type { ConsumerMessages, JetStreamClient } from "@nats-io/jetstream"
import type { StoredMessage } from "../../oracle/Oracle.js"

export class StreamTap {
  readonly messages: Array<StoredMessage> = []
  private waiters: Array<() => void> = []
  private constructor(private readonly it: ConsumerMessages) {}

  static async open(js: JetStreamClient, stream: string): Promise<StreamTap> {
    const consumer = await js.consumers.get(stream) // ordered, from the first message
    const tap = new StreamTap(await consumer.consume({ max_messages: 4096 }))
    void tap.read()
    return tap
  }

  private async read(): Promise<void> {
    for await (const m of this.it) {
      this.messages.push({
        seq: m.info.streamSequence,
        streamMs: Math.floor(m.info.timestampNanos / 1_000_000),
        msgId: m.headers?.get("Nats-Msg-Id") || undefined,
        data: m.data,
        subject: m.subject
      })
      const w = this.waiters
      this.waiters = []
      for (const f of w) f()
    }
  }

  get lastSeq(): number {
    return this.messages[this.messages.length - 1]?.seq ?? 0
  }

  /** Resolves once the tap read up to `seq`. */
  async reach(seq: number): Promise<void> {
    while (this.lastSeq < seq) await new Promise<void>((r) => this.waiters.push(r))
  }

  /** The seqs missing from 1..head (none: the tap read every message before anything erased it). */
  missing(head: number): Array<number> {
    const seen = new Set(this.messages.map((m) => m.seq))
    const out: Array<number> = []
    for (let s = 1; s <= head; s++) if (!seen.has(s)) out.push(s)
    return out
  }

  async close(): Promise<void> {
    await this.it.close()
  }
}
