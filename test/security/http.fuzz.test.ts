// Fuzzing the running service (`arena serve`) over HTTP and WebSocket with hostile input: event
// bodies (mutated, huge, deep, binary), query parameters, path segments (percent-encoded and raw),
// upgrade queries and WebSocket frames. Every answer is a JSON 4xx naming the field (or a 2xx for
// legitimate input), never a 5xx or a dead process; and afterwards the state equals the oracle of
// what was actually stored — hostile input changed nothing it should not have.
import fc from "fast-check"
import { afterAll, beforeAll, expect, it } from "vitest"
import WebSocket from "ws"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { ArenaProcess, JWT_SECRET, cleanup, freshNames, natsClient } from "../support/arena.js"
import type { Nats } from "../support/arena.js"
import { Oracle } from "../oracle/Oracle.js"
import { readStream } from "../oracle/stream.js"
import { SourceIps, pathsOf, pct, rawRequest, request } from "../reliability/lib/http.js"
import type { ErrorJson, Reply } from "../reliability/lib/http.js"
import { checkRest } from "../reliability/lib/verify.js"
import { SQL_AND_HEADERS, deep, mutatedEvent, validEvent } from "./hostile.js"

const RUNS = Number(process.env["FUZZ_HTTP_RUNS"] ?? 200)
const names = freshNames("fzh")
const arena = new ArenaProcess(names)
const ips = new SourceIps(200, 5)
let nats: Nats
let writer = "", admin = "", reader = ""
const counts = new Map<string, number>()
/** Seqs of the items POST /v1/events answered `accepted`: none may be dead-lettered later. */
const acceptedSeqs: Array<number> = []
const count = (what: string) => counts.set(what, (counts.get(what) ?? 0) + 1)

beforeAll(async () => {
  nats = await natsClient()
  await arena.start()
  await arena.waitForSeq(0)
  writer = await mintToken({ sub: "producer", scope: "events:write", ttlSeconds: 3600 }, JWT_SECRET)
  admin = await mintToken({ sub: "root", scope: "admin", ttlSeconds: 3600 }, JWT_SECRET)
  reader = await mintToken({ sub: "fz-user-1", scope: "", ttlSeconds: 3600 }, JWT_SECRET)
})
afterAll(async () => {
  await arena.kill()
  await nats?.nc.close()
  await cleanup(names)
})

/** The common contract of every answer: no 5xx; errors are {"error":{code,message,details[]}} with paths under `prefixes`. */
const expectClear = (what: string, reply: Reply<unknown>, ok: ReadonlyArray<number>, prefixes: ReadonlyArray<string>): void => {
  const r = reply as Reply<ErrorJson>
  count(what)
  expect(ok.includes(r.status), `${what}: ${r.status} ${r.text.slice(0, 300)}`).toBe(true)
  if (r.status >= 400) {
    expect(Object.keys(r.json ?? {})).toEqual(["error"])
    expect(r.text).not.toMatch(/\n\s+at |\.ts:\d+|\.js:\d+/)
    if (r.status === 400) {
      const paths = pathsOf(r)
      expect(paths.length).toBeGreaterThan(0)
      for (const p of paths) expect({ what, path: p, ok: prefixes.some((x) => p.startsWith(x)) }).toMatchObject({ ok: true })
    }
  }
}

const qValue = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom(...SQL_AND_HEADERS), fc.integer().map(String), fc.constantFrom("", "-1", "1e3", "0x10", "1001", "all", "day"))
const query = fc.array(fc.tuple(fc.oneof(fc.constantFrom("window", "period", "limit", "cursor", "radius", "mine", "since", "epoch"), fc.string({ maxLength: 12 })), qValue), { maxLength: 4 })
  .map((kv) => kv.map(([k, v]) => `${pct(k)}=${pct(v)}`).join("&"))
const segment = fc.oneof(fc.string({ maxLength: 140, unit: "binary" }), fc.constantFrom(...SQL_AND_HEADERS, "..", ".", "global", "agent:coder", "agent%3Acoder", "%2e%2e", "%00", "%", "%E0%A4%A"))
  .map((s) => (s.startsWith("%") ? s : pct(s)))

it("POST /v1/events: hostile bodies get 202 per-item answers or a 4xx naming `body…`, never a 5xx", async () => {
  const body = fc.oneof(
    { weight: 3, arbitrary: mutatedEvent },
    { weight: 2, arbitrary: fc.array(fc.oneof(mutatedEvent, fc.jsonValue({ maxDepth: 2 })), { minLength: 0, maxLength: 30 }) },
    { weight: 1, arbitrary: fc.jsonValue() }
  )
  await fc.assert(fc.asyncProperty(body, async (b) => {
    let text: string
    try { text = JSON.stringify(b) } catch { return }
    const r = await request<ErrorJson & { results: Array<{ status: string; seq?: number; error?: ErrorJson["error"] }> }>(arena.baseUrl, "POST", "/v1/events",
      { token: writer, body: text, headers: { "content-type": "application/json" }, from: ips.next() })
    expectClear("POST /v1/events", r, [202, 400], ["body"])
    if (r.status === 202) {
      for (const item of r.json.results) {
        if (item.status === "accepted") acceptedSeqs.push(item.seq!)
        if (item.status === "rejected" && item.error!.code === "oversized") count("POST /v1/events item oversized")
        if (item.status !== "rejected") continue
        expect(item.error!.details.length + (item.error!.code === "unavailable" ? 1 : 0)).toBeGreaterThan(0)
      }
    }
  }), { numRuns: RUNS })
  // The extremes, once each: 1 MiB of nesting, a body over the limit, binary, a wrong media type.
  const extremes: Array<[string, Uint8Array | string, string, ReadonlyArray<number>]> = [
    ["deep array", deep(500_000, false), "application/json", [400, 202]],
    ["deep metadata", `{"event_id":"d1","user_id":"u","agent_name":"a","action_type":"task_completed","timestamp":"2026-01-01T00:00:00Z","metadata":{"x":${deep(300_000, false)}}}`, "application/json", [202, 400]],
    ["deep object", deep(150_000, true), "application/json", [400, 202]],
    ["over 1 MiB", `[${JSON.stringify({ ...validEvent(1), metadata: { pad: "x".repeat(1024 * 1024) } })}]`, "application/json", [413]],
    ["binary", new Uint8Array(Array.from({ length: 4096 }, (_, i) => (i * 131) % 256)), "application/json", [400]],
    ["media type", "{}", "text/plain; charset=utf-8", [415]],
    ["1000 valid", JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ ...validEvent(10_000 + i), metadata: { n: i } }))), "application/json", [202]]
  ]
  for (const [what, raw, type, ok] of extremes) {
    const r = await request(arena.baseUrl, "POST", "/v1/events", { token: writer, body: raw, headers: { "content-type": type }, from: ips.next(), timeoutMs: 60_000 })
    expectClear(`POST /v1/events ${what}`, r, ok, ["body", "header"])
  }
  // Valid fields, event over 16 KiB (a 20,000-digit fraction) or metadata over 4 KiB: refused at once, naming why.
  const big = [
    { ...validEvent(20_001), timestamp: `2026-01-01T00:00:00.${"0".repeat(20_000)}Z` },
    { ...validEvent(20_002), metadata: { pad: "x".repeat(4100) } }
  ]
  const r = await request<{ results: Array<{ status: string; error?: ErrorJson["error"] }> }>(arena.baseUrl, "POST", "/v1/events", { token: writer, json: big, from: ips.next() })
  expect(r.json.results.map((x) => [x.status, x.error?.code, x.error?.details.map((d) => d.path).join()])).toEqual([
    ["rejected", "oversized", ""], ["rejected", "invalid_event", "metadata"]
  ])
})

it("GET routes: hostile query strings and path segments get a 2xx/404 or a 4xx naming `query.`/`path.`", async () => {
  await fc.assert(fc.asyncProperty(fc.constantFrom("lb", "around", "user", "ledger", "shares", "share"), segment, query, async (route, seg, q) => {
    const path = route === "lb" ? `/v1/leaderboards/${seg}?${q}`
      : route === "around" ? `/v1/leaderboards/global/users/${seg}?${q}`
      : route === "user" ? `/v1/users/${seg}?${q}`
      : route === "ledger" ? `/v1/users/${seg}/ledger?${q}`
      : route === "shares" ? `/v1/shares?${q}` : `/v1/shares/${seg}?${q}`
    const r = await request(arena.baseUrl, "GET", path, { token: route === "ledger" ? admin : reader, from: ips.next() })
    expectClear(`GET ${route}`, r, [200, 400, 404], ["query.", "path."])
  }), { numRuns: RUNS * 2 })
})

it("raw request lines (odd bytes, overlong, odd methods) never get a 5xx and never stop the server", async () => {
  const raw = fc.tuple(fc.constantFrom("GET", "POST", "HEAD", "DELETE", "PATCH", "OPTIONS", "BREW"), fc.oneof(
    fc.string({ maxLength: 200, unit: "binary-ascii" }).map((s) => "/" + s.replace(/[\u0000-\u0020\u007f]/g, "")),
    fc.constantFrom("/v1/users/%00", "/v1/../../etc/passwd", "/%ZZ", "//v1//users//x", "/v1/leaderboards/global?limit=1&limit=2", `/v1/users/${"a".repeat(9000)}`)
  ))
  await fc.assert(fc.asyncProperty(raw, async ([method, path]) => {
    const r = await rawRequest(arena.port, `${method} ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`, ips.next())
    count("raw request line")
    // 0: uWS hung up on what it would not parse (e.g. an unknown method) — a refusal, not a crash.
    expect(r.status === 0 || (r.status >= 200 && r.status < 500), `${method} ${path.slice(0, 80)} → ${r.text.slice(0, 200)}`).toBe(true)
  }), { numRuns: RUNS })
  // Control bytes in the request line: no answer, and the connection is dropped by the server's idle timeout.
  const controls = await Promise.all(["/a\tb", "/a\u0001b", "/a\u0000b"].map((p) => rawRequest(arena.port, `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`, ips.next(), 20_000)))
  expect(controls.map((c) => c.status)).toEqual([0, 0, 0])
  expect((await request(arena.baseUrl, "GET", "/healthz", { from: ips.next() })).status).toBe(200)
})

it("WebSocket: hostile upgrade queries get a JSON 4xx naming the field; hostile frames never hurt other subscribers", async () => {
  await fc.assert(fc.asyncProperty(segment, query, async (seg, q) => {
    const r = await request(arena.baseUrl, "GET", `/ws/leaderboard/${seg}?${q}`, {
      from: ips.next(), headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" }
    })
    expectClear("WS upgrade", r, [101, 400, 404, 426], ["query.", "path."])
  }), { numRuns: RUNS })

  const observer = new WebSocket(arena.baseUrl.replace("http", "ws") + "/ws/leaderboard/global?limit=5", { localAddress: ips.next() })
  const seen: Array<string> = []
  observer.on("message", (m) => seen.push(String(m)))
  await new Promise((r) => observer.once("open", r))
  await fc.assert(fc.asyncProperty(fc.array(fc.oneof(fc.string({ maxLength: 3000, unit: "binary" }), fc.uint8Array({ maxLength: 3000 })), { maxLength: 20 }), async (frames) => {
    const ws = new WebSocket(arena.baseUrl.replace("http", "ws") + "/ws/leaderboard/global?limit=3", { localAddress: ips.next() })
    await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject) })
    const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)))
    for (const f of frames) ws.send(f)
    ws.close()
    count("WS hostile frames")
    expect([1000, 1005, 1006, 1009]).toContain(await closed)
  }), { numRuns: Math.ceil(RUNS / 4) })
  // The observer is unharmed: it has its snapshot and still gets live deltas.
  const before = seen.length
  const top = Array.from({ length: 8 }, (_, i) => ({ ...validEvent(99_900 + i), user_id: "observer-check", action_type: "custom", base_points: 500, multipliers: ["hackathon", "first_try"], timestamp: new Date().toISOString() }))
  const r = await request(arena.baseUrl, "POST", "/v1/events", { token: writer, json: top, from: ips.next() })
  expect(r.status).toBe(202)
  for (let i = 0; i < 100 && seen.length === before; i++) await new Promise((res) => setTimeout(res, 50))
  expect(seen.length).toBeGreaterThan(before)
  expect(observer.readyState).toBe(WebSocket.OPEN)
  observer.close()
})

it("SQL metacharacters round-trip verbatim in shares and ids; afterwards the state equals the oracle", async () => {
  // This test's own 1000 valid events, so the oracle check below never rests on what another test stored.
  const own = Array.from({ length: 1000 }, (_, i) => ({ ...validEvent(i), event_id: `fz-oracle-${i}`, metadata: { n: i } }))
  const posted = await request<{ results: Array<{ status: string; seq?: number }> }>(arena.baseUrl, "POST", "/v1/events", { token: writer, json: own, from: ips.next(), timeoutMs: 60_000 })
  expect(posted.status).toBe(202)
  for (const item of posted.json.results) if (item.status === "accepted") acceptedSeqs.push(item.seq!)
  for (const [i, s] of SQL_AND_HEADERS.entries()) {
    const clean = s.replace(/[\u0000-\u001f\u007f]/g, "?")
    const created = await request<{ id: string; title: string; content: string; tags: Array<string> }>(arena.baseUrl, "POST", "/v1/shares",
      { token: writer, json: { title: `t${i} ${s}`, content: s, tags: [clean.slice(0, 50) || "x"], privacy_level: "public" }, from: ips.next() })
    expectClear("POST /v1/shares metachar", created, [201, 400], ["body"])
    if (created.status !== 201) continue
    const back = await request<{ title: string; content: string }>(arena.baseUrl, "GET", `/v1/shares/${created.json.id}`, { from: ips.next() })
    // Verbatim, as far as UTF-8 can carry it (a lone surrogate arrives as U+FFFD).
    const utf8 = (x: string) => Buffer.from(x, "utf8").toString("utf8")
    expect([back.json.title, back.json.content]).toEqual([utf8(`t${i} ${s}`), utf8(s)])
  }
  expect((await request(arena.baseUrl, "GET", "/healthz")).status).toBe(200)
  const head = (await nats.jsm.streams.info(names.stream)).state.last_seq
  await arena.waitForSeq(head)
  const oracle = new Oracle()
  for (const m of await readStream(nats.js, nats.jsm, names.stream)) oracle.apply(m)
  expect(oracle.ledger.length).toBeGreaterThanOrEqual(1000)
  // What HTTP accepted, the pipeline applied: no accepted item was dead-lettered (oversized or otherwise).
  expect(acceptedSeqs.length).toBeGreaterThan(0)
  expect(acceptedSeqs.filter((s) => oracle.rejections.has(s)).map((s) => [s, oracle.rejections.get(s)])).toEqual([])
  expect((await checkRest(arena.baseUrl, oracle, ips)).problems).toEqual([])
  // And durability kept up: a snapshot reaches the head (a poison pill would keep it failing).
  let ready: { ready: boolean; reasons: Array<string>; details: { snapshot_seq?: number } } | undefined
  for (let i = 0; i < 150; i++) {
    ready = (await request<NonNullable<typeof ready>>(arena.baseUrl, "GET", "/readyz")).json
    if (ready.ready && ready.details.snapshot_seq === head) break
    await new Promise((res) => setTimeout(res, 100))
  }
  expect(ready).toMatchObject({ ready: true, details: { snapshot_seq: head } })
  console.log(`HTTP/WS fuzz cases: ${JSON.stringify(Object.fromEntries(counts))}; stream head ${head}, ${oracle.ledger.length} applied, ${oracle.rejections.size} dead-lettered`)
})
