import { describe, expect, it } from "vitest"
import { reconnectDelaySeconds } from "./Db.js"

describe("the pool's reconnect delay", () => {
  it("grows with failures but never past 1 s, so a request with Postgres down fails fast and the pool comes back fast", () => {
    for (let n = 0; n <= 60; n++) {
      for (let k = 0; k < 20; k++) {
        const d = reconnectDelaySeconds(n)
        expect(d).toBeGreaterThanOrEqual(0)
        expect(d).toBeLessThanOrEqual(1)
      }
    }
    expect(reconnectDelaySeconds(0)).toBeLessThanOrEqual(0.01)
  })
})
