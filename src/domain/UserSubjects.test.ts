// The /ws/users subjects of partitioned mode: a user's subject uses the partition subjects' token
// (both escapes), a hello names its partition, and wants split into messages of WANT_CHUNK ids.
import { describe, expect, it } from "vitest"
import { WANT_CHUNK, helloPartition, parseWant, userHelloSubject, userNoteSubject, userWantSubject, wantBodies } from "./UserSubjects.js"

describe("UserSubjects", () => {
  it("names a user's subject by its token, and a partition's want and hello", () => {
    expect(userNoteSubject(3, "a.b@c:d-e_f")).toBe("arena.user.3.a~b=c:d-e_f")
    expect(userWantSubject(7)).toBe("arena.user.want.7")
    expect(helloPartition(userHelloSubject(12))).toBe(12)
    for (const bad of ["arena.user.hello.", "arena.user.hello.x", "arena.user.hello.01", "arena.user.hello.1.2", "arena.user.want.1"]) expect(helloPartition(bad)).toBe(null)
  })

  it("splits a long want list and reads it back", () => {
    const ids = Array.from({ length: WANT_CHUNK * 2 + 1 }, (_, i) => `u${i}`)
    const bodies = wantBodies(ids)
    expect(bodies).toHaveLength(3)
    expect(bodies.flatMap(parseWant)).toEqual(ids)
    expect(wantBodies([])).toEqual([])
    expect(parseWant("")).toEqual([])
  })
})
