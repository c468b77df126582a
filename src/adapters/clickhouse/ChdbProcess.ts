// The embedded engine's home: a child process running chdbChild.mjs (one per data directory),
// and a @clickhouse/client Connection that forwards every call to it over IPC. The service's
// event loop never runs chDB itself; a dead child fails its in-flight calls (retryable) and the
// next call starts a new one.
import { fork } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Readable } from "node:stream"
import { fileURLToPath } from "node:url"
import type { ClickHouseClientConfigOptions } from "@clickhouse/client"
import { ClickHouseError } from "./ClickHouseError.js"

export type Connection = NonNullable<ClickHouseClientConfigOptions["connection"]>
type QueryParams = Parameters<Connection["query"]>[0]
type InsertParams = Parameters<Connection["insert"]>[0]
type QueryResult = Awaited<ReturnType<Connection["query"]>>
type CommandResult = Awaited<ReturnType<Connection["command"]>>
type ExecResult = Awaited<ReturnType<Connection["exec"]>>
type PingResult = Awaited<ReturnType<Connection["ping"]>>
type Summary = CommandResult["summary"]

/** Resolved against the package root, so dist/ (the service) and src/ (vitest) fork the same file. */
export const CHDB_CHILD_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../src/adapters/clickhouse/chdbChild.mjs")

type Reply =
  | { id: number; ok: true; data?: Uint8Array; summary?: Summary }
  | { id: number; ok: false; error: { message: string; code: string; type?: string } }
type Ready = { type: "ready"; pid: number } | { type: "fatal"; message: string }

interface Pending {
  resolve: (r: Extract<Reply, { ok: true }>) => void
  reject: (e: Error) => void
}

/**
 * The pid holding `dataPath`'s lock (ClickHouse's `status` file) if it is an orphaned chdbChild of
 * that directory: its service died (kill -9) and it did not exit — seen hung in chaos tests, where
 * it would keep every later start from opening the engine. null otherwise (or off Linux).
 */
const orphanHolder = (dataPath: string): number | null => {
  try {
    const pid = Number(/^PID: (\d+)/m.exec(fs.readFileSync(path.join(dataPath, "status"), "utf8"))?.[1])
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return null
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
    return ppid === 1 && argv.some((a) => a.endsWith("chdbChild.mjs")) && argv.includes(dataPath) ? pid : null
  } catch {
    return null
  }
}

/** Owns one child at a time; `request` starts one when none is running. */
export class ChdbProcess {
  private child: ChildProcess | null = null
  private starting: Promise<ChildProcess> | null = null
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private stderrTail: string[] = []
  private closed = false
  /** Children started so far (a restart after a crash increments it). */
  generation = 0

  constructor(
    readonly dataPath: string,
    readonly database: string,
    private readonly startTimeoutMs = 60_000,
    private readonly warn: (message: string) => void = () => {}
  ) {}

  /** pid of the running child, or null. Tests kill -9 it. */
  get pid(): number | null {
    return this.child?.pid ?? null
  }

  private start(): Promise<ChildProcess> {
    if (this.starting !== null) return this.starting
    const p = new Promise<ChildProcess>((resolve, reject) => {
      const child = fork(CHDB_CHILD_PATH, [this.dataPath, this.database], {
        serialization: "advanced",
        execArgv: [], // not the parent's loaders/flags (vitest's, inspectors)
        env: { ...process.env, TZ: "UTC" },
        stdio: ["ignore", "inherit", "pipe", "ipc"]
      })
      this.stderrTail = []
      child.stderr?.setEncoding("utf8")
      child.stderr?.on("data", (s: string) => {
        process.stderr.write(s)
        this.stderrTail = [...this.stderrTail, ...s.split("\n").filter((l) => l.trim() !== "")].slice(-5)
      })
      const timer = setTimeout(() => {
        child.kill("SIGKILL")
        reject(new ClickHouseError({ reason: "timeout", retryable: true, message: `chDB child did not start within ${this.startTimeoutMs} ms` }))
      }, this.startTimeoutMs)
      const onReady = (m: unknown) => {
        const msg = m as Ready | Reply
        if ("type" in msg) {
          clearTimeout(timer)
          child.off("message", onReady)
          if (msg.type === "ready") {
            child.on("message", (r: unknown) => this.onReply(r as Reply))
            resolve(child)
          } else {
            const text = `${msg.message} ${this.stderrTail.join(" ")}`
            const locked = /Cannot lock file|Another server instance/i.test(text)
            const orphan = locked ? orphanHolder(this.dataPath) : null
            if (orphan !== null) {
              // Killing it frees the lock; the caller's retry then opens the engine.
              process.kill(orphan, "SIGKILL")
              this.warn(`killed orphaned chDB process ${orphan} holding ${this.dataPath} (left by a service that died); reopening the engine`)
              reject(new ClickHouseError({ reason: "connect", retryable: true, message: `killed orphaned chDB process ${orphan} holding ${this.dataPath}; retrying` }))
              return
            }
            reject(new ClickHouseError({
              reason: locked ? "locked" : "connect",
              retryable: !locked,
              message: locked
                ? `embedded ClickHouse data directory ${this.dataPath} is in use by another process (is \`arena serve\` running? then use its admin SQL route)`
                : `chDB child could not open ${this.dataPath}: ${text}`
            }))
          }
        }
      }
      child.on("message", onReady)
      child.once("exit", (code, signal) => {
        clearTimeout(timer)
        if (this.child === child) this.child = null
        const err = new ClickHouseError({ reason: "connect", retryable: true, message: `chDB child process exited (${signal ?? `code ${code}`})` })
        reject(err)
        for (const [, w] of this.pending) w.reject(err)
        this.pending.clear()
      })
      this.child = child
    })
    this.starting = p
    p.then(() => { this.generation++ }, () => {}).finally(() => { this.starting = null })
    return p
  }

  private onReply(r: Reply): void {
    const w = this.pending.get(r.id)
    if (w === undefined) return
    this.pending.delete(r.id)
    if (r.ok) w.resolve(r)
    else {
      const e = new Error(r.error.message) as Error & { code: string; type?: string }
      e.code = r.error.code
      if (r.error.type !== undefined) e.type = r.error.type
      w.reject(e)
    }
  }

  /**
   * Send one call to the child (starting it if needed). An insert body arrives as chunks (text,
   * or bytes for a binary format), each its own IPC message: serializing one 15 MB message would
   * hold this event loop for ~20 ms.
   * Chunks are handed to the channel as they come, without waiting for each write to complete:
   * under a busy loop every wait is a turn behind the pipeline's work, and a flush of 50k rows
   * waited ~50 of them (the pipeline bench's stalls were all the analytics buffer being full).
   * The channel keeps the order; a write error fails the request.
   */
  async request(
    op: "query" | "command" | "insert" | "ping",
    p: { query?: string; params?: Record<string, unknown>; settings?: object },
    body?: AsyncIterable<string | Uint8Array> | string
  ): Promise<Extract<Reply, { ok: true }>> {
    if (this.closed) throw new ClickHouseError({ reason: "connect", retryable: false, message: "chDB connection is closed" })
    const child = this.child !== null && this.starting === null ? this.child : await this.start()
    const id = this.nextId++
    const done = new Promise<Extract<Reply, { ok: true }>>((resolve, reject) => this.pending.set(id, { resolve, reject }))
    let writeError: Error | null = null
    const send = (msg: object): Promise<void> => {
      const w = new Promise<void>((resolve, reject) =>
        child.send(msg, (err) => {
          if (err === null) return resolve()
          writeError ??= new ClickHouseError({ reason: "connect", retryable: true, message: `chDB child process not reachable: ${err.message}` })
          reject(writeError)
        })
      )
      w.catch(() => {}) // observed through writeError / Promise.all; never an unhandled rejection
      return w
    }
    try {
      const writes: Array<Promise<void>> = []
      if (typeof body === "string") writes.push(send({ id, op: "chunk", data: body }))
      else if (body !== undefined) {
        for await (const chunk of body) {
          if (writeError !== null) throw writeError
          // Bytes stay bytes (a binary format such as RowBinary must not pass through UTF-8).
          writes.push(send({ id, op: "chunk", data: chunk }))
        }
      }
      writes.push(send({ id, op, ...p, chunked: body !== undefined }))
      await Promise.all(writes)
    } catch (e) {
      const w = this.pending.get(id)
      this.pending.delete(id)
      w?.reject(e instanceof Error ? e : new Error(String(e)))
    }
    return done
  }

  /** Asks the child to close its connection and exit; kills it after `timeoutMs`. */
  async close(timeoutMs = 10_000): Promise<void> {
    this.closed = true
    const child = this.child
    if (child === null || child.exitCode !== null) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
      child.once("exit", () => { clearTimeout(timer); resolve() })
      child.send({ op: "shutdown" }, () => {})
    })
  }
}

const base = () => ({ query_id: randomUUID(), response_headers: {}, http_status_code: 200 })
const EMPTY_SUMMARY: Summary = { read_rows: "0", read_bytes: "0", written_rows: "0", written_bytes: "0", result_rows: "0", result_bytes: "0", total_rows_to_read: "0", elapsed_ns: "0" }

const bodyOf = (values: InsertParams["values"]): AsyncIterable<string | Uint8Array> | string =>
  typeof values === "string" ? values : (values as AsyncIterable<string | Uint8Array>)

const callParams = (p: QueryParams) => ({
  query: p.query,
  ...(p.query_params !== undefined ? { params: p.query_params } : {}),
  ...(p.clickhouse_settings !== undefined ? { settings: p.clickhouse_settings } : {})
})

/** `createClient({ connection: new ChildChdbConnection(proc) })`: the client API, the child's engine. */
export class ChildChdbConnection implements Connection {
  constructor(readonly proc: ChdbProcess) {}

  async ping(): Promise<PingResult> {
    try {
      await this.proc.request("ping", {})
      return { success: true }
    } catch (e) {
      return { success: false, error: e instanceof Error ? e : new Error(String(e)) }
    }
  }
  async query(p: QueryParams): Promise<QueryResult> {
    const r = await this.proc.request("query", callParams(p))
    return { stream: Readable.from([Buffer.from(r.data ?? new Uint8Array())]), ...base() }
  }
  async command(p: QueryParams): Promise<CommandResult> {
    const r = await this.proc.request("command", callParams(p))
    return { ...base(), summary: r.summary ?? EMPTY_SUMMARY }
  }
  async exec(p: Parameters<Connection["exec"]>[0]): Promise<ExecResult> {
    const r = p.values === undefined
      ? await this.proc.request("query", callParams(p))
      : await this.proc.request("insert", callParams(p), bodyOf(p.values))
    return { stream: Readable.from([Buffer.from(r.data ?? new Uint8Array())]), ...base(), summary: r.summary ?? EMPTY_SUMMARY }
  }
  async insert(p: InsertParams): Promise<CommandResult> {
    const r = await this.proc.request("insert", callParams(p), bodyOf(p.values))
    return { ...base(), summary: r.summary ?? EMPTY_SUMMARY }
  }
  async close(): Promise<void> {
    await this.proc.close()
  }
}
