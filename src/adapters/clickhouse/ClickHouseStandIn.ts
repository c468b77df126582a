// A STAND-IN for a ClickHouse server, for tests and a newcomer's local cluster (scripts/cluster.sh):
// an HTTP server speaking the subset of ClickHouse's HTTP interface that @clickhouse/client uses,
// executing every statement on ONE embedded chDB (the chDB child process of ChdbProcess.ts, data in
// one directory). It is not ClickHouse server: no replication, no KILL QUERY, no sessions, no
// compression, statements run one at a time in one engine. Partitioned mode needs a server that
// several processes share (an embedded chDB locks its data directory to one process), and this
// machine has none: Debian's clickhouse-server (18.16) is too old for the schema and there is no
// internet. Production and the docker-compose cluster profile use the real clickhouse/clickhouse-server.
//
// What it speaks:
// * `GET|POST /ping` → `Ok.`; `GET /` → `Ok.`
// * a statement in the body, or in the `query` URL parameter with the body as its data
//   (`INSERT … FORMAT RowBinary|JSONEachRow|JSONCompactEachRow…`: the body is the rows);
// * `param_<name>` URL parameters as query parameters, every other URL parameter (except query_id,
//   database, session_id, role, user, password) as a setting of that statement;
// * credentials by Basic auth or `X-ClickHouse-User` / `X-ClickHouse-Key` (checked when a password is set);
// * replies with `X-ClickHouse-Query-Id`, `X-ClickHouse-Summary`, `X-ClickHouse-Timezone`; errors as
//   ClickHouse sends them: an HTTP status, `X-ClickHouse-Exception-Code`, and the body
//   `Code: N. DB::Exception: <message>. (TYPE) (version …)`, which the client parses.
import { randomUUID } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { ChdbProcess } from "./ChdbProcess.js"

export interface StandInOptions {
  /** chDB data directory (one process may hold it). */
  readonly path: string
  /** The database the engine starts in (the client's `database` parameter must name it or `default`). */
  readonly database: string
  readonly host?: string
  /** 0: any free port. */
  readonly port?: number
  /** When set, requests must carry this user and password. */
  readonly user?: string
  readonly password?: string
  readonly log?: (line: string) => void
}

export interface StandIn {
  readonly url: string
  readonly port: number
  /** The chDB child's pid (null before the first statement). */
  readonly enginePid: () => number | null
  close(): Promise<void>
}

const NOT_SETTINGS = new Set(["query", "query_id", "database", "session_id", "role", "user", "password", "session_timeout", "session_check"])
const INSERT_FORMAT_RE = /^\s*INSERT\s+INTO\s[\s\S]*?\sFORMAT\s+([A-Za-z0-9_]+)\s*$/i
/** Formats whose rows are bytes, not text (they go to chDB through a file: ChdbBinaryInsert.mjs). */
const BINARY_FORMATS = new Set(["RowBinary", "RowBinaryWithNames", "RowBinaryWithNamesAndTypes", "Native"])

/**
 * A query parameter as chDB's binder takes it. Over HTTP a top-level string arrives in ClickHouse's
 * escaped text form (the client writes `it\'s`); chDB binds a string as it is, so the escapes are
 * undone here. Composite values (`[…]`, `(…)`, `{…}`) are literals both sides parse alike.
 */
const paramValue = (v: string): string =>
  /^[[({]/.test(v) ? v : v.replace(/\\(.)/gs, (_, c: string) => ({ n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", "0": "\0" } as Record<string, string>)[c] ?? c)

const readBody = (req: http.IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    req.on("data", (c: Buffer) => parts.push(c))
    req.on("end", () => resolve(Buffer.concat(parts)))
    req.on("error", reject)
  })

/** The code and type ClickHouse gives an error (chDB's own when it has them). */
const errorOf = (e: unknown): { code: number; type: string; message: string } => {
  const x = e as { message?: string; code?: unknown; type?: unknown }
  const text = x?.message ?? String(e)
  const m = /Code: (\d+)\. DB::Exception: ([\s\S]*?)(?:\. )?\(([A-Z0-9_]{3,})\)/.exec(text)
  if (m !== null) return { code: Number(m[1]), message: m[2]!, type: m[3]! }
  const code = Number(x?.code)
  return { code: Number.isInteger(code) && code > 0 ? code : 1001, type: typeof x?.type === "string" && x.type !== "" ? x.type : "STD_EXCEPTION", message: text }
}

/** HTTP status as ClickHouse maps its codes (the common ones; everything else 500). */
const statusOf = (code: number): number =>
  code === 516 ? 401 : code === 60 || code === 81 ? 404 : code === 62 || code === 47 || code === 46 || code === 27 || code === 26 ? 400 : 500

/** Starts the stand-in; closing it stops the server and the chDB child. */
export const startClickHouseStandIn = async (o: StandInOptions): Promise<StandIn> => {
  const proc = new ChdbProcess(o.path, o.database, undefined, (m) => o.log?.(m))
  const summary = (written: number) => JSON.stringify({ read_rows: "0", read_bytes: "0", written_rows: String(written), written_bytes: "0", total_rows_to_read: "0", result_rows: "0", result_bytes: "0", elapsed_ns: "0" })

  const fail = (res: http.ServerResponse, queryId: string, e: unknown) => {
    const { code, type, message } = errorOf(e)
    const body = `Code: ${code}. DB::Exception: ${message.replace(/\.$/, "")}. (${type}) (version stand-in: embedded chDB)\n`
    res.writeHead(statusOf(code), { "Content-Type": "text/plain; charset=UTF-8", "X-ClickHouse-Query-Id": queryId, "X-ClickHouse-Exception-Code": String(code) })
    res.end(body)
  }

  const authorized = (req: http.IncomingMessage, url: URL): boolean => {
    if (o.password === undefined) return true
    let user = req.headers["x-clickhouse-user"] as string | undefined ?? url.searchParams.get("user") ?? undefined
    let key = req.headers["x-clickhouse-key"] as string | undefined ?? url.searchParams.get("password") ?? undefined
    const auth = req.headers.authorization
    if (auth?.startsWith("Basic ") === true) {
      const text = Buffer.from(auth.slice(6), "base64").toString("utf8")
      const at = text.indexOf(":")
      user = text.slice(0, at)
      key = text.slice(at + 1)
    }
    return (user ?? "default") === (o.user ?? "default") && key === o.password
  }

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://stand-in")
    const queryId = url.searchParams.get("query_id") ?? randomUUID()
    if (url.pathname === "/ping" || (url.pathname === "/" && req.method === "GET" && !url.searchParams.has("query"))) {
      res.writeHead(200, { "Content-Type": "text/plain; charset=UTF-8" })
      return res.end("Ok.\n")
    }
    if (!authorized(req, url)) return fail(res, queryId, { message: "Code: 516. DB::Exception: default: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)" })
    const database = url.searchParams.get("database")
    if (database !== null && database !== "default" && database !== o.database) {
      return fail(res, queryId, { message: `Code: 81. DB::Exception: Database ${database} does not exist (this stand-in serves ${o.database} only). (UNKNOWN_DATABASE)` })
    }
    const body = await readBody(req)
    const inUrl = url.searchParams.get("query")
    const query = inUrl ?? body.toString("utf8")
    const data = inUrl === null ? null : body
    const params: Record<string, string> = {}
    const settings: Record<string, string> = {}
    for (const [k, v] of url.searchParams) {
      if (k.startsWith("param_")) params[k.slice(6)] = paramValue(v)
      else if (!NOT_SETTINGS.has(k)) settings[k] = v
    }
    const call = { query, ...(Object.keys(params).length > 0 ? { params } : {}), ...(Object.keys(settings).length > 0 ? { settings } : {}) }
    try {
      const insert = INSERT_FORMAT_RE.exec(query)
      let out: Uint8Array = new Uint8Array(0)
      let written = 0
      if (insert !== null && data !== null) {
        const binary = BINARY_FORMATS.has(insert[1]!)
        // An empty body is a successful no-op, as on a server.
        if (data.length > 0) await proc.request("insert", call, binary ? (async function*() { yield new Uint8Array(data) })() : data.toString("utf8"))
        written = data.length > 0 ? 1 : 0
      } else {
        if (data !== null && data.length > 0) throw new Error("Code: 62. DB::Exception: the stand-in takes data in the body only for INSERT … FORMAT <format> in the query parameter. (SYNTAX_ERROR)")
        const r = await proc.request("query", call)
        out = r.data ?? out
      }
      res.writeHead(200, {
        "Content-Type": "text/plain; charset=UTF-8",
        "X-ClickHouse-Query-Id": queryId,
        "X-ClickHouse-Summary": summary(written),
        "X-ClickHouse-Timezone": "UTC",
        "X-ClickHouse-Server-Display-Name": "arena-clickhouse-stand-in"
      })
      res.end(Buffer.from(out.buffer, out.byteOffset, out.byteLength))
    } catch (e) {
      fail(res, queryId, e)
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => { if (!res.headersSent) fail(res, "", e); else res.destroy() })
  })
  server.keepAliveTimeout = 10_000
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(o.port ?? 0, o.host ?? "127.0.0.1", () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  o.log?.(`ClickHouse STAND-IN (embedded chDB at ${o.path}, database ${o.database}; not a ClickHouse server) on http://${o.host ?? "127.0.0.1"}:${port}`)
  return {
    url: `http://${o.host ?? "127.0.0.1"}:${port}`,
    port,
    enginePid: () => proc.pid,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await proc.close()
    }
  }
}
