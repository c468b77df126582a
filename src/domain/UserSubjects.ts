// Partitioned mode's /ws/users subjects (core NATS, docs/scaling.md "User notifications"): the owner
// of partition k publishes a watched user's notifications on `arena.user.<k>.<user token>`; gateways
// say which users their sockets watch on `arena.user.want.<k>` (user ids, one a line) and answer an
// owner's `arena.user.hello.<k>` (sent when it takes k) with their list at once. One home for them.
import { userToken } from "./Partition.js"

/** The subject of one user's notifications (the token as the partition subjects spell it). */
export const userNoteSubject = (partition: number, userId: string): string => `arena.user.${partition}.${userToken(userId)}`
/** Where gateways list the users of partition k their sockets watch. */
export const userWantSubject = (partition: number): string => `arena.user.want.${partition}`
/** What a new owner of partition k says, so that gateways list its watched users at once. */
export const userHelloSubject = (partition: number): string => `arena.user.hello.${partition}`
export const USER_HELLO_WILDCARD = "arena.user.hello.*"

/** The partition of a hello subject, or null. */
export const helloPartition = (subject: string): number | null => {
  const m = /^arena\.user\.hello\.(0|[1-9]\d{0,5})$/.exec(subject)
  return m === null ? null : Number(m[1])
}

/** Ids per want message: well under NATS's default 1 MiB max_payload at 128 bytes an id. */
export const WANT_CHUNK = 2_000

/** A want message's bodies for these user ids (several when there are many). */
export const wantBodies = (userIds: ReadonlyArray<string>): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < userIds.length; i += WANT_CHUNK) out.push(userIds.slice(i, i + WANT_CHUNK).join("\n"))
  return out
}

export const parseWant = (body: string): Array<string> => body === "" ? [] : body.split("\n")
