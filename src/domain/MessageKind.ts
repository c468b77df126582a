// What a message on the event stream is, by the subject it was published to: an XP event (every
// subject the stream captures that is not listed below) or another kind with a subject of its own
// (`<prefix>.corrections`, `<prefix>.settings`, `<prefix>.erasures`). The adapter resolves the kind once per
// message (a length compare, bytes only on a length match) and hands it on with the message; the
// one dispatch on it is StreamMessage.applyMessage. A new kind: a constant here, its subject
// suffix in MESSAGE_KINDS (and in streams/ARENA_XP.json), a case in applyMessage and one in
// Processor.applyOther. Ticks (partitioned mode) have a subject per partition instead
// (Partition.ts tickSubject): a partition's consumer lists its own, so they are not in MESSAGE_KINDS.

export const MSG_EVENT = 0
export const MSG_CORRECTION = 1
export const MSG_SETTINGS = 2
export const MSG_ERASURE = 3
/** Partitioned mode: stream time for one partition (its JetStream timestamp), nothing else (ARCHITECTURE §9). */
export const MSG_TICK = 4

export type MessageKind = typeof MSG_EVENT | typeof MSG_CORRECTION | typeof MSG_SETTINGS | typeof MSG_ERASURE | typeof MSG_TICK

/** Every kind but events, with its subject after the deployment's prefix (`arena.xp`). */
export const MESSAGE_KINDS: ReadonlyArray<{ readonly kind: MessageKind; readonly suffix: string }> = [
  { kind: MSG_CORRECTION, suffix: "corrections" },
  { kind: MSG_SETTINGS, suffix: "settings" },
  { kind: MSG_ERASURE, suffix: "erasures" }
]

/** A kind and the full subject it travels on. */
export interface KindSubject {
  readonly kind: MessageKind
  readonly subject: string
}

/** The subjects of the non-event kinds under `prefix`. */
export const kindSubjects = (prefix: string): ReadonlyArray<KindSubject> =>
  MESSAGE_KINDS.map(({ kind, suffix }) => ({ kind, subject: `${prefix}.${suffix}` }))
