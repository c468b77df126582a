// Partitioned mode (ARCHITECTURE §9): a user's subject token, the partition nats-server's
// `{{partition(P,1)}}` mapping gives it (FNV-1a 32 of the token's bytes mod P, as
// `getHashPartition` in server/accounts.go of nats-server 2.9.10 computes it), and the subjects
// of a partition. One home for the rule, so producers, the processor's check and the tests agree.
//
// The token escapes two characters of the user_id alphabet [A-Za-z0-9._:@-]:
//   `.` -> `~`  (a dot would split the subject into two tokens);
//   `@` -> `=`  (nats-server 2.9 appends `@<subject>` to a JetStream reply when it forwards a
//               delivery over a route and splits at the *last* `@` on the other side, so an `@`
//               in a stored subject corrupts deliveries to clients on another node: an ordered
//               consumer stalls there; checked on a 3-node 2.9.10 cluster, see docs/scaling.md).
// `~` and `=` are outside the alphabet, so the mapping is one-to-one and `userOfToken` inverts it.

import { MSG_CORRECTION, MSG_ERASURE, MSG_EVENT, MSG_SETTINGS, MSG_TICK } from "./MessageKind.js"
import type { MessageKind } from "./MessageKind.js"

/** The subject a producer publishes a user's event to in partitioned mode (the server maps it). */
export const INGEST_PREFIX = "arena.xp.events."
/** Where the mapping puts it: `arena.xp.p.<partition>.<token>`. */
export const PARTITION_PREFIX = "arena.xp.p."

export const MAX_PARTITIONS = 1024

const TOKEN_ALPHABET = /^[A-Za-z0-9_:~=-]+$/

/** The subject token of a user id: `.` -> `~`, `@` -> `=` (one-to-one on the user_id alphabet). */
export const userToken = (userId: string): string => {
  if (userId.indexOf(".") === -1 && userId.indexOf("@") === -1) return userId
  let out = ""
  for (let i = 0; i < userId.length; i++) {
    const c = userId[i]!
    out += c === "." ? "~" : c === "@" ? "=" : c
  }
  return out
}

/** The user id a token stands for, or null when the string is not a token of any valid user id. */
export const userOfToken = (token: string): string | null => {
  if (token.length === 0 || token.length > 128 || !TOKEN_ALPHABET.test(token)) return null
  let out = ""
  for (let i = 0; i < token.length; i++) {
    const c = token[i]!
    out += c === "~" ? "." : c === "=" ? "@" : c
  }
  return out
}

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193
const utf8 = new TextEncoder()

/** FNV-1a 32 of the UTF-8 bytes of `s` (Go's hash/fnv New32a), as an unsigned 32-bit integer. */
export const fnv1a32 = (s: string): number => {
  let h = FNV_OFFSET
  let ascii = true
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) { ascii = false; break }
  if (ascii) {
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME)
  } else {
    for (const b of utf8.encode(s)) h = Math.imul(h ^ b, FNV_PRIME)
  }
  return h >>> 0
}

/** A valid partition count: an integer 1..MAX_PARTITIONS. */
export const isPartitionCount = (p: number): boolean => Number.isInteger(p) && p >= 1 && p <= MAX_PARTITIONS

/** The partition `{{partition(P,1)}}` gives a subject whose wildcard token is `token`. */
export const partitionOfToken = (token: string, partitions: number): number => fnv1a32(token) % partitions

/** The partition of a user: the one the server's mapping puts `arena.xp.events.<userToken(id)>` on. */
export const partitionOfUser = (userId: string, partitions: number): number => partitionOfToken(userToken(userId), partitions)

/** User ids split by partition (index k: the ids of partition k, in their order): a group's members, each partition asked about its own. */
export const usersByPartition = (userIds: ReadonlyArray<string>, partitions: number): Array<Array<string>> => {
  const out = Array.from({ length: partitions }, (): Array<string> => [])
  for (const u of userIds) out[partitionOfUser(u, partitions)]!.push(u)
  return out
}

/** `arena.xp.events.<token>`: what `POST /v1/events` and `arena produce` publish to in partitioned mode. */
export const ingestSubject = (userId: string): string => INGEST_PREFIX + userToken(userId)

/** `arena.xp.p.<k>.>`: the filter of partition k's ordered consumer (a string filter: 2.9 has no arrays). */
export const partitionFilter = (partition: number): string => `${PARTITION_PREFIX}${partition}.>`

/**
 * The last token of a tick's subject. `$` is outside the token alphabet, so no user's subject is a
 * tick's (the research notes' `~tick` would be user `.tick`'s token).
 */
export const TICK_TOKEN = "$tick"

/**
 * `arena.xp.p.<k>.$tick`: where the coordinator publishes partition k's tick, once a second
 * (adapters/nats/Ticker.ts). Its JetStream timestamp is the stream time it brings the partition.
 */
export const tickSubject = (partition: number): string => `${PARTITION_PREFIX}${partition}.${TICK_TOKEN}`

/**
 * `tick/<k>/<unix second>`: the Nats-Msg-Id of partition k's tick for one second, so two
 * coordinators (a handover, or a deposed one that has not noticed yet) store it once.
 */
export const tickMsgId = (partition: number, unixSecond: number): string => `tick/${partition}/${unixSecond}`

/**
 * The last tokens of partition k's correction, settings and erasure subjects (ARCHITECTURE §9):
 * like `$tick`, outside the token alphabet, so no user's subject is one of them. The gateway puts
 * each such message on its user's partition itself (`partitionOfUser`, the mapping's hash: the
 * servers' one mapping covers `arena.xp.events.*` only); the owner checks the user's partition
 * again (`checkPartitionUser`) and applies it in its partition's seq order.
 */
export const KIND_TOKENS = { corrections: "$corrections", settings: "$settings", erasures: "$erasures" } as const
export type PartitionKind = keyof typeof KIND_TOKENS

/** `arena.xp.p.<k>.$corrections|$settings|$erasures`: where a user's corrections, settings and erasures travel. */
export const partitionKindSubject = (partition: number, kind: PartitionKind): string => `${PARTITION_PREFIX}${partition}.${KIND_TOKENS[kind]}`

/**
 * Whether a correction, settings change or erasure naming `userId` may be applied by partition
 * `owned`: its subject is partition k's subject of its kind and k = the user's partition = owned.
 */
export const checkPartitionUser = (subject: string, userId: string, partitions: number, owned: number): SubjectCheck => {
  const parsed = parsePartitionSubject(subject)
  const mismatch = (message: string): SubjectCheck => ({ ok: false, reason: "subject_user_mismatch", message })
  if (parsed === null) return mismatch(`subject ${subject} is not ${PARTITION_PREFIX}<partition>.<kind>`)
  const want = partitionOfUser(userId, partitions)
  if (parsed.partition !== want) return mismatch(`subject partition ${parsed.partition} is not user ${userId}'s partition ${want} of ${partitions}`)
  if (parsed.partition !== owned) return mismatch(`subject partition ${parsed.partition} read by the consumer of partition ${owned}`)
  return { ok: true, partition: parsed.partition }
}

/**
 * What a partition's consumer makes of a message on `subject`, for a reader of the whole stream (the
 * rules dry run): the partition k of `partitions` whose filter `arena.xp.p.<k>.>` takes it and its kind
 * as that consumer's kind table gives it (the exact subject of k's tick, corrections, settings or
 * erasures; anything else an event, which the subject check may then refuse), or null when no
 * partition's consumer reads it (another subject, or a k that is not one of the deployment's).
 */
export const partitionReading = (subject: string, partitions: number): { readonly partition: number; readonly kind: MessageKind } | null => {
  if (!subject.startsWith(PARTITION_PREFIX)) return null
  const dot = subject.indexOf(".", PARTITION_PREFIX.length)
  if (dot < 0 || dot === subject.length - 1) return null
  const k = subject.slice(PARTITION_PREFIX.length, dot)
  if (!/^(0|[1-9][0-9]{0,3})$/.test(k) || Number(k) >= partitions) return null
  const tail = subject.slice(dot + 1)
  const kind = tail === TICK_TOKEN ? MSG_TICK
    : tail === KIND_TOKENS.corrections ? MSG_CORRECTION
    : tail === KIND_TOKENS.settings ? MSG_SETTINGS
    : tail === KIND_TOKENS.erasures ? MSG_ERASURE
    : MSG_EVENT
  return { partition: Number(k), kind }
}

/** The account mapping every server of a partitioned deployment carries (scripts/cluster.sh writes it). */
export const subjectMapping = (partitions: number): { readonly from: string; readonly to: string } => ({
  from: `${INGEST_PREFIX}*`,
  to: `${PARTITION_PREFIX}{{partition(${partitions},1)}}.{{wildcard(1)}}`
})

export interface PartitionedSubject { readonly partition: number; readonly token: string }

/** `arena.xp.p.<k>.<token>` read back, or null when the subject has another shape. */
export const parsePartitionSubject = (subject: string): PartitionedSubject | null => {
  if (!subject.startsWith(PARTITION_PREFIX)) return null
  const rest = subject.slice(PARTITION_PREFIX.length)
  const dot = rest.indexOf(".")
  if (dot <= 0 || rest.indexOf(".", dot + 1) !== -1) return null
  const k = rest.slice(0, dot)
  if (!/^(0|[1-9][0-9]{0,3})$/.test(k)) return null
  const token = rest.slice(dot + 1)
  return token.length === 0 ? null : { partition: Number(k), token }
}

export type SubjectCheck =
  | { readonly ok: true; readonly partition: number }
  | { readonly ok: false; readonly reason: "subject_user_mismatch"; readonly message: string }

/**
 * Whether a record read from the stream may be applied by partition `owned`: its subject is
 * `arena.xp.p.<k>.<token>` with token = userToken(user_id) and k = partitionOfUser(user_id) = owned.
 * Anything else would split one user's state over two partitions, so it is dead-lettered
 * (`subject_user_mismatch`).
 */
export const checkPartitionSubject = (subject: string, userId: string, partitions: number, owned: number): SubjectCheck => {
  const parsed = parsePartitionSubject(subject)
  const mismatch = (message: string): SubjectCheck => ({ ok: false, reason: "subject_user_mismatch", message })
  if (parsed === null) return mismatch(`subject ${subject} is not ${PARTITION_PREFIX}<partition>.<user token>`)
  const token = userToken(userId)
  if (parsed.token !== token) return mismatch(`subject token ${parsed.token} is not the token of user_id ${userId} (${token})`)
  const want = partitionOfToken(token, partitions)
  if (parsed.partition !== want) return mismatch(`subject partition ${parsed.partition} is not user ${userId}'s partition ${want} of ${partitions}`)
  if (parsed.partition !== owned) return mismatch(`subject partition ${parsed.partition} read by the consumer of partition ${owned}`)
  return { ok: true, partition: parsed.partition }
}
