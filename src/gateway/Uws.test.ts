import { createRequire } from "node:module"
import { describe, expect, it } from "vitest"
import { assertNativeUws, isNativeUws, nativeBinaryPath, uWS } from "./Uws.js"

describe("uWebSockets.js native check", () => {
  it("recognizes the native addon that is loaded here", () => {
    expect(() => assertNativeUws()).not.toThrow()
    expect(isNativeUws(uWS, nativeBinaryPath())).toBe(true)
  })

  it("rejects the package's JavaScript fallback", () => {
    const require = createRequire(import.meta.url)
    const fallback: unknown = require("uWebSockets.js/dist/index.js")
    expect(isNativeUws(fallback, nativeBinaryPath())).toBe(false)
    // A fallback that happened to be cached under the binary's path still lacks native members.
    const fakeCache = { [nativeBinaryPath()]: { exports: fallback } as NodeModule }
    expect(isNativeUws(fallback, nativeBinaryPath(), fakeCache)).toBe(false)
  })
})
