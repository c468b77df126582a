// One snapshot cut in progress: the users to write (those changed since the last cut, or all of
// them for a base), encoded into binary chunks a slice at a time between batches, while the
// pipeline keeps applying events. A user about to change before its turn is encoded first (its
// pre-image), so the cut is exactly the state at the cut's seq without pausing anything.
import type { EngineState } from "../domain/engine/Engine.js"
import { ChunkEncoder } from "../domain/state/SnapshotCodec.js"
import { FLAG_PENDING } from "../domain/state/UserTable.js"

/**
 * A chunk is closed past this many bytes. Small enough that no single step holds the event loop
 * for long: the Postgres driver sends a bytea parameter as one hex string built synchronously.
 * Measured (2 cores, load ~20): the longest loop gap during one INSERT was a median 2.2 ms at
 * 256 KiB, 4.1 ms at 512 KiB and 79 ms at 4 MiB (the size before). A 200 MB base is ~800 rows.
 */
const CHUNK_BYTES = 256 * 1024

export interface CutResult {
  readonly seq: number
  readonly streamTimeMs: number
  /** A base replaces every stored chunk; a delta adds to them. */
  readonly base: boolean
  readonly chunks: ReadonlyArray<Uint8Array>
  readonly users: number
  readonly bytes: number
}

export class Cut {
  private next = 0
  private encoder: ChunkEncoder
  private readonly chunks: Array<Uint8Array> = []
  private users = 0
  private bytes = 0

  /** Marks `uids` pending; the caller must route every first write of a user to beforeWrite. */
  constructor(
    private readonly state: EngineState,
    readonly seq: number,
    readonly streamTimeMs: number,
    readonly base: boolean,
    private readonly uids: Int32Array,
    private readonly erased: ReadonlyArray<string> = []
  ) {
    const f = state.users.flags
    for (let i = 0; i < uids.length; i++) f[uids[i]!] = f[uids[i]!]! | FLAG_PENDING
    this.encoder = new ChunkEncoder(state)
    for (const id of erased) this.encoder.tombstone(id)
  }

  get done(): boolean {
    return this.next >= this.uids.length
  }

  get remaining(): number {
    return this.uids.length - this.next
  }

  /** A pending user is about to change: write it as it is now (the state at the cut's seq). */
  beforeWrite(uid: number): void {
    if ((this.state.users.flags[uid]! & FLAG_PENDING) !== 0) this.write(uid)
  }

  /** Encodes up to `max` more pending users; true when every user is written. */
  step(max: number): boolean {
    const end = Math.min(this.uids.length, this.next + max)
    const f = this.state.users.flags
    for (; this.next < end; this.next++) {
      const uid = this.uids[this.next]!
      if ((f[uid]! & FLAG_PENDING) !== 0) this.write(uid)
    }
    return this.done
  }

  private write(uid: number): void {
    const f = this.state.users.flags
    f[uid] = f[uid]! & ~FLAG_PENDING
    if (!this.state.users.has(uid)) return
    this.encoder.add(uid)
    this.users++
    if (this.encoder.size >= CHUNK_BYTES) this.rotate()
  }

  private rotate(): void {
    const c = this.encoder.finish()
    this.chunks.push(c)
    this.bytes += c.length
    this.encoder = new ChunkEncoder(this.state)
  }

  /** The finished cut (call once `done`). */
  finish(): CutResult {
    if (!this.done) throw new Error("Cut.finish before every user was written")
    // A delta with nothing in it writes no chunk: an idle partition's ticks (partitioned mode) move
    // its seq every second, and a row per cut would pile up until the next base.
    if (this.encoder.users > 0 || (this.chunks.length === 0 && this.base)) this.rotate()
    return { seq: this.seq, streamTimeMs: this.streamTimeMs, base: this.base, chunks: this.chunks, users: this.users + this.erased.length, bytes: this.bytes }
  }
}
