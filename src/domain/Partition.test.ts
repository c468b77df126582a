import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { MSG_CORRECTION, MSG_ERASURE, MSG_EVENT, MSG_SETTINGS, MSG_TICK } from "./MessageKind.js"
import {
  partitionReading,
  checkPartitionSubject, checkPartitionUser, fnv1a32, ingestSubject, isPartitionCount, parsePartitionSubject, partitionFilter, partitionKindSubject, partitionOfToken,
  partitionOfUser, subjectMapping, tickMsgId, tickSubject, userOfToken, userToken, usersByPartition
} from "./Partition.js"

const userIdChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@-".split("")
const userId = fc.array(fc.constantFrom(...userIdChars), { minLength: 1, maxLength: 128 }).map((a) => a.join(""))

describe("fnv1a32", () => {
  it("matches the published FNV-1a 32 test vectors (Go's hash/fnv New32a)", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5)
    expect(fnv1a32("a")).toBe(0xe40c292c)
    expect(fnv1a32("foobar")).toBe(0xbf9cf968)
  })
  it("hashes UTF-8 bytes, as Go does for a string's bytes", () => {
    // "é" is C3 A9 in UTF-8: two rounds, not one round of U+00E9.
    const twoRounds = Math.imul(Math.imul(0x811c9dc5 ^ 0xc3, 0x01000193) ^ 0xa9, 0x01000193) >>> 0
    expect(fnv1a32("é")).toBe(twoRounds)
  })
  it("is an unsigned 32-bit integer", () => {
    fc.assert(fc.property(fc.string(), (s) => {
      const h = fnv1a32(s)
      return Number.isInteger(h) && h >= 0 && h <= 0xffffffff
    }))
  })
})

describe("userToken", () => {
  it("escapes . to ~ and @ to =, and leaves the rest", () => {
    expect(userToken("alice")).toBe("alice")
    expect(userToken("a.b@c.d:e-f_g")).toBe("a~b=c~d:e-f_g")
  })
  it("is one-to-one on the user_id alphabet and is a single subject token with no @", () => {
    fc.assert(fc.property(userId, (id) => {
      const t = userToken(id)
      return userOfToken(t) === id && !/[.@*> \t\r\n]/.test(t) && t.length === id.length
    }))
  })
  it("userOfToken refuses strings that are no user's token", () => {
    for (const bad of ["", "a.b", "a@b", "a*b", "a>b", "a b", "x".repeat(129)]) expect(userOfToken(bad)).toBeNull()
  })
})

describe("partitions", () => {
  it("a user's partition is FNV-1a 32 of its token mod P", () => {
    expect(partitionOfUser("alice", 8)).toBe(fnv1a32("alice") % 8)
    expect(partitionOfUser("bob@example.com", 64)).toBe(fnv1a32("bob=example~com") % 64)
    // The three the test cluster showed (test/scripts/cluster.test.ts): alice -> 7, bob=example:com -> 0, carol~x -> 4.
    expect([partitionOfToken("alice", 8), partitionOfToken("bob=example:com", 8), partitionOfToken("carol~x", 8)]).toEqual([7, 0, 4])
  })
  it("is always in 0..P-1", () => {
    fc.assert(fc.property(userId, fc.integer({ min: 1, max: 1024 }), (id, p) => {
      const k = partitionOfUser(id, p)
      return Number.isInteger(k) && k >= 0 && k < p
    }))
  })
  it("P is an integer 1..1024", () => {
    expect([1, 8, 64, 1024].every(isPartitionCount)).toBe(true)
    expect([0, -1, 1025, 1.5, Number.NaN].some(isPartitionCount)).toBe(false)
  })
  it("subjects: ingest, consumer filter and the server mapping", () => {
    expect(ingestSubject("a.b@c")).toBe("arena.xp.events.a~b=c")
    expect(partitionFilter(5)).toBe("arena.xp.p.5.>")
    expect(subjectMapping(8)).toEqual({ from: "arena.xp.events.*", to: "arena.xp.p.{{partition(8,1)}}.{{wildcard(1)}}" })
  })
})

describe("parsePartitionSubject / checkPartitionSubject", () => {
  it("reads arena.xp.p.<k>.<token> and nothing else", () => {
    expect(parsePartitionSubject("arena.xp.p.12.a~b")).toEqual({ partition: 12, token: "a~b" })
    for (const s of ["arena.xp.events.a", "arena.xp.p.a", "arena.xp.p.1.a.b", "arena.xp.p.01.a", "arena.xp.p.1.", "arena.xp.p..a"]) {
      expect(parsePartitionSubject(s)).toBeNull()
    }
  })
  it("accepts a record on its user's subject in the owned partition", () => {
    const k = partitionOfUser("u.1@x", 8)
    expect(checkPartitionSubject(`arena.xp.p.${k}.u~1=x`, "u.1@x", 8, k)).toEqual({ ok: true, partition: k })
  })
  it("flags subject_user_mismatch for another user's token, a wrong partition, another owner or a bare subject", () => {
    const k = partitionOfUser("alice", 8)
    const other = (k + 1) % 8
    const bad = [
      checkPartitionSubject(`arena.xp.p.${k}.mallory`, "alice", 8, k),
      checkPartitionSubject(`arena.xp.p.${other}.alice`, "alice", 8, other),
      checkPartitionSubject(`arena.xp.p.${k}.alice`, "alice", 8, other),
      checkPartitionSubject("arena.xp.events", "alice", 8, k)
    ]
    for (const r of bad) expect(r).toMatchObject({ ok: false, reason: "subject_user_mismatch" })
    expect(bad.map((r) => (r.ok ? "" : r.message))).toEqual([
      "subject token mallory is not the token of user_id alice (alice)",
      `subject partition ${other} is not user alice's partition ${k} of 8`,
      `subject partition ${k} read by the consumer of partition ${other}`,
      "subject arena.xp.events is not arena.xp.p.<partition>.<user token>"
    ])
  })
})

describe("tick subjects (ARCHITECTURE §9: stream time for idle partitions)", () => {
  it("partition k's tick is arena.xp.p.<k>.$tick, read by k's consumer, keyed by partition and second", () => {
    expect(tickSubject(5)).toBe("arena.xp.p.5.$tick")
    expect(tickSubject(5).startsWith(partitionFilter(5).slice(0, -1))).toBe(true)
    expect(tickMsgId(5, 1_765_000_000)).toBe("tick/5/1765000000")
    expect(tickMsgId(5, 1_765_000_000)).not.toBe(tickMsgId(6, 1_765_000_000))
  })
  it("is no user's subject: its last token is no user's token", () => {
    expect(parsePartitionSubject(tickSubject(3))).toEqual({ partition: 3, token: "$tick" })
    expect(userOfToken("$tick")).toBeNull()
    fc.assert(fc.property(userId, (u) => userToken(u) !== "$tick" && ingestSubject(u) !== "arena.xp.events.$tick"))
  })
})

describe("corrections, settings and erasures subjects (ARCHITECTURE §9: routed with their user)", () => {
  const kinds = ["corrections", "settings", "erasures"] as const
  it("partition k's are arena.xp.p.<k>.$corrections|$settings|$erasures, read by k's consumer, no user's subject", () => {
    expect(kinds.map((k) => partitionKindSubject(5, k))).toEqual(["arena.xp.p.5.$corrections", "arena.xp.p.5.$settings", "arena.xp.p.5.$erasures"])
    for (const k of kinds) {
      expect(partitionKindSubject(5, k).startsWith(partitionFilter(5).slice(0, -1))).toBe(true)
      expect(userOfToken(parsePartitionSubject(partitionKindSubject(3, k))!.token)).toBeNull()
    }
  })
  it("checkPartitionUser accepts exactly the user's partition, read by that partition's consumer", () => {
    fc.assert(fc.property(userId, fc.integer({ min: 1, max: 64 }), fc.constantFrom(...kinds), (u, p, kind) => {
      const k = partitionOfUser(u, p)
      expect(checkPartitionUser(partitionKindSubject(k, kind), u, p, k)).toEqual({ ok: true, partition: k })
      if (p > 1) {
        const j = (k + 1) % p
        expect(checkPartitionUser(partitionKindSubject(j, kind), u, p, j)).toMatchObject({ ok: false, reason: "subject_user_mismatch" })
        expect(checkPartitionUser(partitionKindSubject(k, kind), u, p, j)).toMatchObject({ ok: false, reason: "subject_user_mismatch" })
      }
    }))
    expect(checkPartitionUser("arena.xp.corrections", "ann", 4, partitionOfUser("ann", 4))).toMatchObject({ ok: false })
  })
})

describe("usersByPartition", () => {
  it("puts each user id in its partition's list, in the given order, and nothing else", () => {
    fc.assert(fc.property(fc.array(userId, { maxLength: 50 }), fc.integer({ min: 1, max: 16 }), (ids, p) => {
      const by = usersByPartition(ids, p)
      expect(by).toHaveLength(p)
      by.forEach((list, k) => expect(list).toEqual(ids.filter((u) => partitionOfUser(u, p) === k)))
    }))
  })
})

describe("partitionReading (a whole-stream reader reads each message as its partition's consumer does)", () => {
  it("the partition whose filter arena.xp.p.<k>.> takes the subject, and the kind its consumer gives it", () => {
    expect(partitionReading("arena.xp.p.3.ann", 4)).toEqual({ partition: 3, kind: MSG_EVENT })
    expect(partitionReading(tickSubject(2), 4)).toEqual({ partition: 2, kind: MSG_TICK })
    expect(partitionReading(partitionKindSubject(0, "corrections"), 4)).toEqual({ partition: 0, kind: MSG_CORRECTION })
    expect(partitionReading(partitionKindSubject(1, "settings"), 4)).toEqual({ partition: 1, kind: MSG_SETTINGS })
    expect(partitionReading(partitionKindSubject(3, "erasures"), 4)).toEqual({ partition: 3, kind: MSG_ERASURE })
    // More tokens: the consumer of 3 reads it, as an event (which the subject check then refuses).
    expect(partitionReading("arena.xp.p.3.a.b", 4)).toEqual({ partition: 3, kind: MSG_EVENT })
    expect(partitionReading("arena.xp.p.3.$tick.x", 4)).toEqual({ partition: 3, kind: MSG_EVENT })
  })

  it("no partition's consumer reads it: null", () => {
    for (const s of ["arena.xp.p.4.ann", "arena.xp.p.03.ann", "arena.xp.p.x.ann", "arena.xp.p.3", "arena.xp.p.3.", "arena.xp.corrections", "arena.xp.events.ann", "other.p.1.ann"]) {
      expect(partitionReading(s, 4), s).toBeNull()
    }
  })
})
