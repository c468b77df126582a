// Forwarded requests are routed by RouteTable, not by uWS: it must pick the same route uWS does
// (static segment over parameter, no empty parameter, exact segment count, raw parameters).
import { describe, expect, it } from "vitest"
import { RouteTable } from "./RouteTable.js"

const table = (): RouteTable<string> => {
  const t = new RouteTable<string>()
  t.add("/v1/leaderboards", "get", "list")
  t.add("/v1/leaderboards/:board", "get", "board")
  t.add("/v1/leaderboards/:board/users/:user_id", "get", "around")
  t.add("/v1/shares", "get", "shares-list")
  t.add("/v1/shares", "post", "shares-create")
  t.add("/v1/shares/:id", "get", "share")
  t.add("/", "get", "root")
  return t
}

describe("RouteTable", () => {
  it("matches like uWS: parameters raw, never empty, static before parameter", () => {
    const t = table()
    const m = (p: string) => { const r = t.match(p); return r === null ? null : [r.methods.get("get") ?? r.methods.get("post"), ...r.params] }
    expect(m("/v1/leaderboards")).toEqual(["list"])
    expect(m("/v1/leaderboards/global")).toEqual(["board", "global"])
    expect(m("/v1/leaderboards/a%20b/users/u%2F1")).toEqual(["around", "a%20b", "u%2F1"])
    expect(m("/")).toEqual(["root"])
    for (const miss of ["/v1/leaderboards/", "/v1/leaderboards//users/x", "/v1/leaderboards/global/", "//", "/V1/leaderboards", "/v2"]) expect(m(miss)).toBeNull()
  })

  it("keeps every method of a pattern (for 405 Allow and OPTIONS)", () => {
    const t = table()
    expect([...t.match("/v1/shares")!.methods.keys()]).toEqual(["get", "post"])
    expect(t.patterns().find(([p]) => p === "/v1/shares")![1]).toEqual(["get", "post"])
  })

  it("prefers a static segment over a parameter at the same position", () => {
    const t = new RouteTable<string>()
    t.add("/a/:x", "get", "param")
    t.add("/a/fixed", "get", "static")
    expect(t.match("/a/fixed")!.methods.get("get")).toBe("static")
    expect(t.match("/a/other")!.methods.get("get")).toBe("param")
  })
})
