// Shared bench helpers: the machine line, a fresh stream/database, the service as a child
// process, raw JetStream consume (the baseline ceiling), and appending rows to RESULTS.md.
import { spawn, execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { randomBytes } from "node:crypto"
import { connect } from "@nats-io/transport-node"
import { jetstream, jetstreamManager, DeliverPolicy } from "@nats-io/jetstream"
import postgres from "postgres"

export const ROOT = path.resolve(import.meta.dirname, "..")
export const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222"
export const PG_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/arena"

// The 1-minute load average, sampled every 2 s from the moment a script imports this module: the
// machine is shared, so every figure is printed with the load it was measured under.
const loadSamples = [os.loadavg()[0]]
setInterval(() => { loadSamples.push(os.loadavg()[0]) }, 2000).unref()
/** "load avg 2.1–5.3 during the run (mean 3.8)": min–max and mean of the samples so far. */
export const loadDuring = () => {
  const min = Math.min(...loadSamples), max = Math.max(...loadSamples)
  const mean = loadSamples.reduce((a, b) => a + b, 0) / loadSamples.length
  return `load avg ${min.toFixed(1)}–${max.toFixed(1)} during the run (mean ${mean.toFixed(1)})`
}

/** The machine line: cores, memory, Node, nats-server, kernel, and the load average so far in this run. */
export const machine = () => {
  const cpus = os.cpus()
  let versions = ""
  try { versions = execFileSync("nats-server", ["--version"]).toString().trim() } catch { versions = "nats-server ?" }
  return `${cpus.length} × ${cpus[0]?.model ?? "cpu"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${versions}, ${os.type()} ${os.release()}, ${loadDuring()}`
}

export const freshNames = (label) => {
  const id = `${label}${randomBytes(3).toString("hex")}`
  const u = new URL(PG_URL)
  u.pathname = `/arena_${id}`
  return {
    id, stream: `B_${id.toUpperCase()}`, prefix: `${id}.xp`, subject: `${id}.xp.events`, database: `arena_${id}`, databaseUrl: u.toString(),
    dataDir: fs.mkdtempSync(path.join(os.tmpdir(), `arena-bench-${id}-`))
  }
}

export const nats = async () => {
  const nc = await connect({ servers: NATS_URL })
  return { nc, js: jetstream(nc), jsm: await jetstreamManager(nc) }
}

export const envFor = (n, extra = {}) => ({
  ...process.env, NATS_URL, DATABASE_URL: n.databaseUrl, ARENA_STREAM: n.stream, ARENA_SUBJECT_PREFIX: n.prefix,
  ARENA_DATA_DIR: n.dataDir, ARENA_JWT_SECRET: "bench-secret-0123456789abcdef", PORT: "0", ...extra
})

/** Extra V8/Node flags for every bench service (e.g. `BENCH_NODE_ARGS=--trace-gc`), space-separated. */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean)

/**
 * glibc's mmap threshold for the service (README "Memory"): BENCH_SERVICE_MALLOC=<bytes> starts it
 * with MALLOC_MMAP_THRESHOLD_=<bytes>; unset or empty, as users run it, without (an empty
 * MALLOC_MMAP_THRESHOLD_ would read as 0 to glibc, so it is removed).
 */
const SERVICE_MALLOC = process.env.BENCH_SERVICE_MALLOC ?? process.env.MALLOC_MMAP_THRESHOLD_ ?? ""
const serviceEnv = (n, extra) => {
  const env = envFor(n, { MALLOC_MMAP_THRESHOLD_: SERVICE_MALLOC, ...extra })
  if (env.MALLOC_MMAP_THRESHOLD_ === "") delete env.MALLOC_MMAP_THRESHOLD_
  return env
}
/** What a row says of the setting: nothing when the service runs as users run it. */
export const mallocNote = () => SERVICE_MALLOC === "" ? "" : `, MALLOC_MMAP_THRESHOLD_=${SERVICE_MALLOC}`

/**
 * Start `arena serve` as a user runs it: `node bin/arena serve` with Node's default flags (V8's default
 * heap limit, ~4 GiB here) plus `nodeArgs` (a scenario that needs more says so, e.g. recovery at 1M
 * users) and $BENCH_NODE_ARGS; resolves with {child, port, log()} once it listens.
 */
export const startService = (n, extra = {}, nodeArgs = []) => new Promise((resolve, reject) => {
  const child = spawn(process.execPath, [...nodeArgs, ...NODE_ARGS, path.join(ROOT, "bin/arena"), "serve"], { cwd: ROOT, env: serviceEnv(n, extra), stdio: ["ignore", "pipe", "pipe"] })
  let log = ""
  const t0 = Date.now()
  // stdout is drained (a full pipe would block the service); BENCH_SERVICE_STDOUT keeps it in a file.
  if (process.env.BENCH_SERVICE_STDOUT) child.stdout.pipe(fs.createWriteStream(process.env.BENCH_SERVICE_STDOUT))
  else child.stdout.resume()
  // BENCH_SERVICE_LOG keeps the service's log (stderr) in a file as well.
  if (process.env.BENCH_SERVICE_LOG) child.stderr.pipe(fs.createWriteStream(process.env.BENCH_SERVICE_LOG))
  child.stderr.on("data", (b) => {
    log += b.toString()
    const m = /listening on http:\/\/[\d.]+:(\d+)/.exec(log)
    if (m && !child.port) { child.port = Number(m[1]); resolve({ child, port: child.port, startedAt: t0, log: () => log }) }
  })
  child.once("exit", (code) => reject(new Error(`service exited ${code}: ${log.slice(-2000)}`)))
})

export const rssOf = (pid) => {
  try { return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))[1]) * 1024 } catch { return 0 }
}

/** CPU seconds (user + system) a process has used so far (clock ticks are 1/100 s on Linux). */
export const cpuOf = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")
  return (Number(f[11]) + Number(f[12])) / 100
}

export const readyz = async (port) => {
  try { const r = await fetch(`http://127.0.0.1:${port}/readyz`); return { status: r.status, body: await r.json() } } catch { return { status: 0, body: {} } }
}

/** Until /readyz is 200 with `seq` — the visible seq (boards, profiles, ledgers), not `ingested_seq` — ≥ seq; the time it saw that. */
export const waitReady = async (port, seq, timeoutMs = 3_600_000, onTick = () => {}) => {
  const t0 = Date.now()
  for (;;) {
    const r = await readyz(port)
    if (r.status === 200 && (r.body.details?.seq ?? 0) >= seq) return Date.now()
    if (Date.now() - t0 > timeoutMs) throw new Error(`not ready at ${seq} after ${timeoutMs} ms: ${JSON.stringify(r.body)}`)
    onTick(r)
    await new Promise((res) => setTimeout(res, 50))
  }
}

export const stopService = (svc, signal = "SIGTERM") => new Promise((resolve) => {
  svc.child.once("exit", (code) => resolve(code))
  svc.child.kill(signal)
})

/** Baseline: raw ordered JetStream consume + JSON.parse of `count` messages from `startSeq`. */
export const rawConsume = async (js, stream, startSeq, count) => {
  const c = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq })
  const t0 = process.hrtime.bigint()
  const it = await c.consume({ max_messages: 4096 })
  let n = 0
  for await (const m of it) {
    JSON.parse(new TextDecoder().decode(m.data))
    if (++n >= count) break
  }
  await it.close()
  return Number(process.hrtime.bigint() - t0) / 1e6
}

export const cleanup = async (n) => {
  const h = await nats()
  for (const s of [n.stream, `${n.stream}_DLQ`]) await h.jsm.streams.delete(s).catch(() => false)
  await h.nc.close()
  const u = new URL(PG_URL)
  u.pathname = "/postgres"
  const sql = postgres(u.toString(), { max: 1, onnotice: () => {} })
  await sql.unsafe(`DROP DATABASE IF EXISTS "${n.database}" WITH (FORCE)`).catch(() => {})
  await sql.end()
  fs.rmSync(n.dataDir, { recursive: true, force: true })
}

/** Append a dated row under a scenario heading in bench/RESULTS.md (created if missing). */
export const appendResult = (scenario, row) => {
  const file = path.join(ROOT, "bench/RESULTS.md")
  const line = `| ${new Date().toISOString().slice(0, 16).replace("T", " ")} | ${row.replaceAll(" | ", " · ")} |\n`
  let text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "# Benchmark results\n\nRows are appended by the scripts in bench/ (newest last).\n"
  const head = `\n## ${scenario}\n`
  if (!text.includes(head)) text += `${head}\n| when | result |\n|---|---|\n`
  const idx = text.indexOf(head)
  const next = text.indexOf("\n## ", idx + head.length)
  const at = next === -1 ? text.length : next
  text = text.slice(0, at).replace(/\n*$/, "\n") + line + text.slice(at)
  fs.writeFileSync(file, text)
}

export const fmt = (n) => Math.round(n).toLocaleString("en-US")
