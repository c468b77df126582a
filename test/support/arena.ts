// Starts the real service as a child process on fresh names (stream, subjects, database,
// ClickHouse path, port) against the machine's NATS and Postgres; stops, kills and cleans up.
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { randomBytes } from "node:crypto"
import { connect } from "@nats-io/transport-node"
import type { NatsConnection } from "@nats-io/transport-node"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream"
import postgres from "postgres"
import { afterAll, beforeAll, expect } from "vitest"
import { mintToken } from "../../src/gateway/auth/Auth.js"
import { canWrite, descendantPids } from "./procs.js"

export const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222"
export const PG_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/arena"
const ROOT = path.resolve(import.meta.dirname, "../..")

export const JWT_SECRET = "test-secret-0123456789abcdef0123456789"

export interface Names {
  readonly id: string
  readonly stream: string
  readonly prefix: string
  readonly subject: string
  readonly dlqStream: string
  readonly database: string
  readonly databaseUrl: string
  readonly dataDir: string
}

export const freshNames = (label = "t"): Names => {
  const id = `${label}${randomBytes(4).toString("hex")}`
  const u = new URL(PG_URL)
  u.pathname = `/arena_${id}`
  return {
    id,
    stream: `T_${id.toUpperCase()}`,
    prefix: `${id}.xp`,
    subject: `${id}.xp.events`,
    dlqStream: `T_${id.toUpperCase()}_DLQ`,
    database: `arena_${id}`,
    databaseUrl: u.toString(),
    dataDir: fs.mkdtempSync(path.join(os.tmpdir(), `arena-${id}-`))
  }
}

export interface Nats {
  readonly nc: NatsConnection
  readonly js: JetStreamClient
  readonly jsm: JetStreamManager
}

export const natsClient = async (): Promise<Nats> => {
  const nc = await connect({ servers: NATS_URL })
  return { nc, js: jetstream(nc), jsm: await jetstreamManager(nc) }
}

export class ArenaProcess {
  child: ChildProcess | null = null
  port = 0
  log = ""
  constructor(readonly names: Names, readonly env: Record<string, string> = {}) {}

  get baseUrl(): string { return `http://127.0.0.1:${this.port}` }

  /** Start `arena serve`; resolves once it listens (not necessarily ready). */
  async start(): Promise<void> {
    this.log = ""
    const child = spawn(process.execPath, [path.join(ROOT, "bin/arena"), "serve"], {
      cwd: ROOT,
      env: {
        ...process.env,
        NATS_URL,
        DATABASE_URL: this.names.databaseUrl,
        ARENA_STREAM: this.names.stream,
        ARENA_SUBJECT_PREFIX: this.names.prefix,
        ARENA_DATA_DIR: this.names.dataDir,
        ARENA_JWT_SECRET: JWT_SECRET,
        ARENA_SNAPSHOT_INTERVAL: "500ms",
        PORT: "0",
        ...this.env
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    this.child = child
    this.port = await new Promise<number>((resolve, reject) => {
      const onData = (b: Buffer) => {
        this.log += b.toString()
        const m = /listening on http:\/\/[\d.]+:(\d+)/.exec(this.log)
        if (m) resolve(Number(m[1]))
      }
      child.stderr!.on("data", onData)
      child.stdout!.on("data", (b: Buffer) => { this.log += b.toString() })
      child.once("exit", (code) => reject(new Error(`arena exited with ${code} before listening:\n${this.log}`)))
      setTimeout(() => reject(new Error(`arena did not listen within 60 s:\n${this.log}`)), 60_000).unref()
    })
  }

  async readyz(): Promise<{ status: number; body: { ready: boolean; reasons: string[]; details: { seq?: number; snapshot_seq?: number } } }> {
    const r = await fetch(`${this.baseUrl}/readyz`)
    return { status: r.status, body: await r.json() as never }
  }

  /** Wait until ready and the pipeline has applied `seq` (polling /readyz). */
  async waitForSeq(seq: number, timeoutMs = 240_000): Promise<void> {
    const t0 = Date.now()
    for (;;) {
      try {
        const r = await this.readyz()
        if (r.status === 200 && (r.body.details.seq ?? 0) >= seq) return
      } catch { /* not up yet */ }
      if (Date.now() - t0 > timeoutMs) throw new Error(`arena did not reach seq ${seq} in ${timeoutMs} ms:\n${this.log.slice(-3000)}`)
      await sleep(100)
    }
  }

  /** Graceful stop (SIGTERM: drain, final snapshot). */
  async stop(timeoutMs = 120_000): Promise<number | null> {
    const c = this.child
    if (c === null || c.exitCode !== null) return c?.exitCode ?? null
    const exited = new Promise<number | null>((r) => c.once("exit", (code) => r(code)))
    const kids = descendantPids(c.pid!)
    c.kill("SIGTERM")
    // A service that does not stop is a defect to report with its log, not a test that hangs.
    let timer: ReturnType<typeof setTimeout> | undefined
    const overdue = new Promise<"overdue">((r) => { timer = setTimeout(() => r("overdue"), timeoutMs) })
    const code = await Promise.race([exited, overdue])
    clearTimeout(timer)
    if (code === "overdue") {
      const states = kids.map((k) => `${k}:${canWrite(k) ? "running" : "gone"}`).join(", ")
      c.kill("SIGKILL")
      await exited
      this.child = null
      await allGone(kids)
      throw new Error(`arena did not stop within ${timeoutMs} ms of SIGTERM (killed; children ${states || "none"}):\n${this.log.slice(-4000)}`)
    }
    this.child = null
    await allGone(kids)
    return code
  }

  /** kill -9: no shutdown code runs at all. */
  async kill(): Promise<void> {
    const c = this.child
    if (c === null || c.exitCode !== null) return
    const exited = new Promise<void>((r) => c.once("exit", () => r()))
    const kids = descendantPids(c.pid!)
    c.kill("SIGKILL")
    await exited
    this.child = null
    // The chDB child outlives a killed service by a moment (it exits when its parent's pipe
    // closes) and may still write its data directory: the next start or cleanup waits for it.
    await allGone(kids)
  }
}

/** Waits until every pid has exited; one still running after 60 s is killed (and said). */
const allGone = async (pids: ReadonlyArray<number>): Promise<void> => {
  const t0 = Date.now()
  while (pids.some(canWrite)) {
    if (Date.now() - t0 > 60_000) {
      for (const p of pids.filter(canWrite)) {
        console.error(`test support: process ${p} of a stopped service still runs after 60 s; killing it`)
        try { process.kill(p, "SIGKILL") } catch { /* gone meanwhile */ }
      }
    }
    await sleep(20)
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Delete the streams and database a test created. */
export const cleanup = async (names: Names): Promise<void> => {
  const n = await natsClient()
  for (const s of [names.stream, names.dlqStream]) await n.jsm.streams.delete(s).catch(() => false)
  await n.nc.close()
  const u = new URL(PG_URL)
  u.pathname = "/postgres"
  const sql = postgres(u.toString(), { max: 1, onnotice: () => {} })
  await sql.unsafe(`DROP DATABASE IF EXISTS "${names.database}" WITH (FORCE)`).catch(() => {})
  await sql.end()
  fs.rmSync(names.dataDir, { recursive: true, force: true })
}

export const db = (names: Names) => postgres(names.databaseUrl, { max: 2, onnotice: () => {} })

/** Publish events (objects, or raw strings/bytes) with Nats-Msg-Id = event_id unless told otherwise. */
export const publishAll = async (
  js: JetStreamClient,
  subject: string,
  events: ReadonlyArray<Record<string, unknown> | { raw: string | Uint8Array; msgId?: string }>,
  inFlight = 1000
): Promise<Array<{ seq: number; duplicate: boolean }>> => {
  const out = new Array<{ seq: number; duplicate: boolean }>(events.length)
  const pending = new Set<Promise<void>>()
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!
    const isRaw = "raw" in e && (typeof e.raw === "string" || e.raw instanceof Uint8Array)
    const data = isRaw ? (e as { raw: string | Uint8Array }).raw : JSON.stringify(e)
    const msgId = isRaw ? (e as { msgId?: string }).msgId : String((e as Record<string, unknown>).event_id)
    const p = js.publish(subject, data, msgId === undefined ? {} : { msgID: msgId }).then((ack) => { out[i] = { seq: ack.seq, duplicate: ack.duplicate } })
    pending.add(p)
    void p.finally(() => pending.delete(p))
    if (pending.size >= inFlight) await Promise.race(pending)
  }
  await Promise.all(pending)
  return out
}

/**
 * A real `arena serve` for one test file: fresh names, started and caught up to seq 0 before its
 * tests, stopped (gracefully, or kill -9 with `stop: "kill"`) and its database, streams and data
 * removed after them. `token` mints one with JWT_SECRET; `postEvents` sends a batch through
 * POST /v1/events as a producer, expects every event accepted and returns the highest seq.
 */
export const useArena = (label: string, env: Record<string, string> = {}, o: { readonly stop?: "graceful" | "kill" } = {}) => {
  const names = freshNames(label)
  const arena = new ArenaProcess(names, env)
  beforeAll(async () => {
    await arena.start()
    await arena.waitForSeq(0)
  })
  afterAll(async () => {
    if (o.stop === "kill") await arena.kill()
    else await arena.stop()
    await cleanup(names)
  })
  const token = (sub: string, scope = "") => mintToken({ sub, scope, ttlSeconds: 600 }, JWT_SECRET)
  const postEvents = async (events: ReadonlyArray<Record<string, unknown>>): Promise<number> => {
    const r = await fetch(`${arena.baseUrl}/v1/events`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await token("producer", "events:write")}` },
      body: JSON.stringify(events)
    })
    const json = await r.json() as { accepted: number; results: Array<{ seq: number }> }
    expect([r.status, json.accepted]).toEqual([202, events.length])
    return Math.max(...json.results.map((x) => x.seq))
  }
  return { names, arena, token, postEvents }
}
