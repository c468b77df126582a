// Which processor owns which partition (ARCHITECTURE §9): computed by the one lease-held
// coordinator and written once for everyone, so members never act on divergent views of who is
// alive (the assignment ping-pong a prototype hit). Balanced (counts differ by at most one) and
// sticky (a partition moves only when its owner left or holds more than its share), so a join or
// a leave moves as few partitions as possible. Pure and deterministic.

export interface Assignment {
  /** Rises with every change; members ignore an assignment older than the one they follow. */
  readonly epoch: number
  /** Sorted, distinct member ids. */
  readonly members: ReadonlyArray<string>
  /** owners[k] = the member that owns partition k. */
  readonly owners: ReadonlyArray<string>
}

/** Each member's share: floor(P/M), plus one for the first P mod M members in sorted order. */
const quotas = (partitions: number, members: ReadonlyArray<string>): Map<string, number> => {
  const base = Math.floor(partitions / members.length)
  const extra = partitions % members.length
  return new Map(members.map((m, i) => [m, base + (i < extra ? 1 : 0)]))
}

/**
 * The assignment of `partitions` over `members`, keeping as much of `previous` as balance allows.
 * With no members there is no assignment (null): nobody can own anything.
 */
export const assign = (partitions: number, members: ReadonlyArray<string>, previous?: Assignment): Assignment | null => {
  const ms = [...new Set(members)].sort()
  if (ms.length === 0 || partitions < 1) return null
  const quota = quotas(partitions, ms)
  // Members that keep their partitions longest get the larger quotas: hand the +1s to members that
  // already own the most, so fewer partitions move (ties by name, so it stays deterministic).
  if (previous !== undefined && previous.owners.length === partitions) {
    const owned = new Map<string, number>()
    for (const o of previous.owners) owned.set(o, (owned.get(o) ?? 0) + 1)
    const byOwned = [...ms].sort((a, b) => (owned.get(b) ?? 0) - (owned.get(a) ?? 0) || (a < b ? -1 : a > b ? 1 : 0))
    const base = Math.floor(partitions / ms.length)
    const extra = partitions % ms.length
    byOwned.forEach((m, i) => quota.set(m, base + (i < extra ? 1 : 0)))
  }
  const owners: Array<string | undefined> = new Array(partitions).fill(undefined)
  const count = new Map(ms.map((m) => [m, 0]))
  if (previous !== undefined && previous.owners.length === partitions) {
    for (let k = 0; k < partitions; k++) {
      const o = previous.owners[k]!
      const c = count.get(o)
      if (c !== undefined && c < quota.get(o)!) { owners[k] = o; count.set(o, c + 1) }
    }
  }
  // The rest go, in partition order, to members still under quota (in sorted order): a fresh
  // assignment is contiguous ranges.
  let mi = 0
  for (let k = 0; k < partitions; k++) {
    if (owners[k] !== undefined) continue
    while (count.get(ms[mi]!)! >= quota.get(ms[mi]!)!) mi++
    owners[k] = ms[mi]!
    count.set(ms[mi]!, count.get(ms[mi]!)! + 1)
  }
  const changed = previous === undefined || previous.owners.length !== partitions ||
    previous.members.join("\n") !== ms.join("\n") || owners.some((o, k) => o !== previous.owners[k])
  return { epoch: previous === undefined ? 1 : changed ? previous.epoch + 1 : previous.epoch, members: ms, owners: owners as Array<string> }
}

/** The partitions `member` owns under `a`. */
export const partitionsOf = (a: Assignment, member: string): Array<number> => {
  const out: Array<number> = []
  a.owners.forEach((o, k) => { if (o === member) out.push(k) })
  return out
}

/**
 * The partitions a member should run after reading the assignment: `read` is null when the read
 * failed, and then so is the answer ("keep running what you run": a failed read says nothing about
 * ownership); no assignment yet, or one without this member, means none.
 */
export const wantedPartitions = (read: { readonly assignment: Assignment | null } | null, member: string): ReadonlySet<number> | null => {
  if (read === null) return null
  const a = read.assignment
  return new Set(a !== null && a.members.includes(member) ? partitionsOf(a, member) : [])
}

/** How long the live members must stay the same before the coordinator assigns them. */
export const MEMBERSHIP_SETTLE_MS = 1_500
/** A membership that keeps changing is assigned after this long anyway. */
export const MEMBERSHIP_MAX_WAIT_MS = 10_000

/**
 * Debounces membership for the coordinator (like Kafka's group.initial.rebalance.delay.ms):
 * processors started together join over a second or so, and assigning each join as it was seen
 * made a start walk through epochs of 1, 2 and 3 members, each a round of handovers (drain, final
 * snapshot, release, claim, replay) for partitions that move again right after. A changed member
 * set is assigned once it was seen unchanged for `settleMs`, or `maxWaitMs` after the change began.
 * Returns `ready(members, assigned, now)`: true when the coordinator may write an assignment.
 */
export const membershipSettle = (settleMs = MEMBERSHIP_SETTLE_MS, maxWaitMs = MEMBERSHIP_MAX_WAIT_MS) => {
  let key: string | null = null
  let since = 0
  let pendingSince: number | null = null
  return (members: ReadonlyArray<string>, assigned: ReadonlyArray<string> | null, now: number): boolean => {
    const k = [...members].sort().join("\n")
    if (k !== key) {
      key = k
      since = now
    }
    if (assigned !== null && [...assigned].sort().join("\n") === k) {
      pendingSince = null
      return true
    }
    pendingSince ??= since
    return now - since >= settleMs || now - pendingSince >= maxWaitMs
  }
}

/** How many partitions change owner from `a` to `b` (same P). */
export const moves = (a: Assignment, b: Assignment): number => a.owners.reduce((n, o, k) => n + (o === b.owners[k] ? 0 : 1), 0)
