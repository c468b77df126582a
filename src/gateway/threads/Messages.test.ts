import { describe, expect, it } from "vitest"
import type { Many } from "./Messages.js"
import { outbox } from "./Messages.js"

describe("outbox", () => {
  it("posts the messages of one turn together, in order, and a lone message as itself", () => {
    const posted: Array<number | Many<number>> = []
    const pending: Array<() => void> = []
    const post = outbox<number>((m) => posted.push(m), (f) => pending.push(f))
    post(1); post(2); post(3)
    expect(pending).toHaveLength(1)
    expect(posted).toEqual([])
    pending.shift()!()
    expect(posted).toEqual([{ t: "many", msgs: [1, 2, 3] }])
    post(4)
    pending.shift()!()
    expect(posted).toEqual([{ t: "many", msgs: [1, 2, 3] }, 4])
  })

  it("a message posted while flushing goes in the next turn", () => {
    const posted: Array<number | Many<number>> = []
    const pending: Array<() => void> = []
    let post: (m: number) => void = () => {}
    post = outbox<number>((m) => { posted.push(m); if (m === 1) post(2) }, (f) => pending.push(f))
    post(1)
    pending.shift()!()
    expect(posted).toEqual([1])
    expect(pending).toHaveLength(1)
    pending.shift()!()
    expect(posted).toEqual([1, 2])
  })
})
