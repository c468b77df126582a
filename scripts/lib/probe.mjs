// Small probes the shell set-up needs (scripts/lib/*.sh): what answers on a port, is it
// NATS with JetStream, is it Postgres, create the database, do node_modules match the
// lockfile, is an HTTP endpoint 200, is the service ready (or fatally not). Exit codes are the answer; a line on stderr says why.
// Only node: built-ins are imported at the top, so `deps-ok` and `ident` work before `npm ci`.
import { existsSync, readFileSync, realpathSync } from "node:fs"
import net from "node:net"
import path from "node:path"

const [cmd, ...args] = process.argv.slice(2)
const say = (msg) => process.stderr.write(`${msg}\n`)

// Resolves to "nats" (it greets with INFO), "postgres" (answers an SSLRequest with S/N),
// "other" (something else answers) or "closed" (nothing listens).
function ident(host, port, timeoutMs = 2000) {
  return new Promise((resolve) => {
    let phase = "connect"
    let data = Buffer.alloc(0)
    const sock = net.connect({ host, port: Number(port) })
    const done = (kind) => {
      clearTimeout(timer)
      sock.destroy()
      resolve(kind)
    }
    const timer = setTimeout(() => done(phase === "connect" ? "closed" : "other"), timeoutMs)
    let sslTimer
    sock.on("connect", () => {
      phase = "greeting"
      // NATS speaks first; Postgres waits for the client. Give the greeting 400 ms,
      // then send a Postgres SSLRequest (length 8, code 80877103).
      sslTimer = setTimeout(() => {
        phase = "ssl"
        sock.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]))
      }, 400)
    })
    sock.on("data", (chunk) => {
      data = Buffer.concat([data, chunk])
      if (phase === "greeting" && data.length >= 5) {
        clearTimeout(sslTimer)
        done(data.subarray(0, 5).toString() === "INFO " ? "nats" : "other")
      } else if (phase === "ssl") {
        const b = String.fromCharCode(data[0])
        done(data.length === 1 && (b === "S" || b === "N") ? "postgres" : "other")
      }
    })
    sock.on("error", () => done(phase === "connect" ? "closed" : "other"))
    sock.on("close", () => done(phase === "connect" ? "closed" : "other"))
  })
}

function withTimeout(promise, ms, what) {
  let t
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
    })
  ]).finally(() => clearTimeout(t))
}

// 0: NATS with JetStream; 2: NATS without JetStream; 3: not reachable.
async function natsJs(url) {
  const { connect } = await import("@nats-io/transport-node")
  const { jetstreamManager } = await import("@nats-io/jetstream")
  let nc
  try {
    nc = await withTimeout(connect({ servers: url, timeout: 3000, reconnect: false }), 5000, "connect")
  } catch (e) {
    say(`cannot connect to NATS at ${url}: ${e.message}`)
    return 3
  }
  try {
    const jsm = await withTimeout(jetstreamManager(nc, { timeout: 3000 }), 5000, "JetStream")
    const info = await withTimeout(jsm.getAccountInfo(), 5000, "JetStream account info")
    say(`NATS ${nc.info?.version ?? "?"} at ${url}: JetStream enabled (${info.streams} streams)`)
    return 0
  } catch (e) {
    say(`NATS at ${url} answers but JetStream is not usable: ${e.message}`)
    return 2
  } finally {
    await nc.close().catch(() => {})
  }
}

// Connects to the server of DATABASE_URL (maintenance database `postgres`) and creates the
// URL's database when missing. 0: ok; 3: cannot connect or authenticate; 4: create failed.
// pg-drop-db URL: drops the database (after ending its sessions); 0 when it is gone, 3 when
// Postgres cannot be used.
async function pgDropDb(url) {
  const { default: postgres } = await import("postgres")
  const u = new URL(url)
  const dbName = decodeURIComponent(u.pathname.replace(/^\//, ""))
  if (dbName === "" || dbName === "postgres") { say(`refusing to drop database "${dbName}"`); return 2 }
  const admin = new URL(url)
  admin.pathname = "/postgres"
  const sql = postgres(admin.toString(), { connect_timeout: 5, max: 1, onnotice: () => {}, idle_timeout: 1 })
  try {
    await withTimeout(sql.unsafe(`drop database if exists "${dbName.replace(/"/g, '""')}" with (force)`), 30000, "drop database")
    say(`dropped database "${dbName}" at ${u.host}`)
    return 0
  } catch (e) {
    say(`cannot drop database "${dbName}" at ${u.host}: ${e.message}`)
    return 3
  } finally {
    await sql.end({ timeout: 2 }).catch(() => {})
  }
}

async function pgEnsureDb(url) {
  const { default: postgres } = await import("postgres")
  const u = new URL(url)
  const dbName = decodeURIComponent(u.pathname.replace(/^\//, "")) || "postgres"
  const admin = new URL(url)
  admin.pathname = "/postgres"
  const sql = postgres(admin.toString(), { connect_timeout: 5, max: 1, onnotice: () => {}, idle_timeout: 1 })
  try {
    let version
    try {
      ;[{ server_version: version }] = await withTimeout(sql`show server_version`, 10000, "query")
    } catch (e) {
      say(`cannot use Postgres at ${u.host} as ${decodeURIComponent(u.username) || "(default user)"}: ${e.message}`)
      return 3
    }
    const found = await sql`select 1 from pg_database where datname = ${dbName}`
    if (found.length > 0) {
      say(`Postgres ${version} at ${u.host}: database "${dbName}" exists`)
      return 0
    }
    try {
      await sql.unsafe(`create database "${dbName.replace(/"/g, '""')}"`)
    } catch (e) {
      if (e.code !== "42P04") {
        say(`cannot create database "${dbName}": ${e.message}`)
        return 4
      }
    }
    say(`Postgres ${version} at ${u.host}: created database "${dbName}"`)
    return 0
  } finally {
    await sql.end({ timeout: 2 }).catch(() => {})
  }
}

// 0 when every package that package-lock.json lists is in node_modules at that version
// (optional ones for other platforms may be absent), i.e. `npm ci` would change nothing.
function depsOk(root) {
  const lockPath = path.join(root, "package-lock.json")
  if (!existsSync(lockPath)) {
    say("no package-lock.json")
    return 1
  }
  const lock = JSON.parse(readFileSync(lockPath, "utf8"))
  for (const [where, meta] of Object.entries(lock.packages ?? {})) {
    if (where === "" || !where.includes("node_modules/")) continue
    if (meta.link) {
      // A vendored package (vendor/README.md): node_modules must link to it, not hold an older copy.
      let linked = false
      try { linked = realpathSync(path.join(root, where)) === realpathSync(path.join(root, meta.resolved)) } catch { /* missing */ }
      if (!linked) {
        say(`${where} is not the link to ${meta.resolved}`)
        return 1
      }
      continue
    }
    const pj = path.join(root, where, "package.json")
    if (!existsSync(pj)) {
      if (meta.optional) continue
      say(`missing ${where}`)
      return 1
    }
    const version = JSON.parse(readFileSync(pj, "utf8")).version
    if (meta.version && version !== meta.version) {
      say(`${where} is ${version}, lockfile says ${meta.version}`)
      return 1
    }
  }
  return 0
}

// Prints the HTTP status (000 when nothing answers); exit 0 only on 200.
async function httpStatus(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) })
    process.stdout.write(`${res.status}\n`)
    if (res.status !== 200) say((await res.text()).slice(0, 300))
    return res.status === 200 ? 0 : 1
  } catch {
    process.stdout.write("000\n")
    return 1
  }
}

// /readyz: prints the status; 0 when 200, 3 when the service says it is fatal (not ready for a
// reason no retry fixes: the reasons follow on stdout, one a line), 1 otherwise.
async function readyz(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) })
    const text = await res.text()
    process.stdout.write(`${res.status}\n`)
    if (res.status === 200) return 0
    let body
    try { body = JSON.parse(text) } catch { body = undefined }
    if (body?.fatal === true) {
      const reasons = Array.isArray(body.reasons) ? body.reasons.map(String) : []
      process.stdout.write(`${(reasons.length > 0 ? reasons : ["(no reason given)"]).join("\n")}\n`)
      return 3
    }
    say(text.slice(0, 300))
    return 1
  } catch {
    process.stdout.write("000\n")
    return 1
  }
}

const run = {
  ident: async ([host, port]) => {
    process.stdout.write(`${await ident(host, port)}\n`)
    return 0
  },
  "nats-js": ([url]) => natsJs(url),
  "pg-ensure-db": ([url]) => pgEnsureDb(url),
  "pg-drop-db": ([url]) => pgDropDb(url),
  "deps-ok": ([root]) => depsOk(root ?? process.cwd()),
  http: ([url]) => httpStatus(url),
  readyz: ([url]) => readyz(url)
}[cmd]

if (!run) {
  say("usage: probe.mjs ident HOST PORT | nats-js URL | pg-ensure-db URL | pg-drop-db URL | deps-ok [ROOT] | http URL | readyz URL")
  process.exit(64)
}
process.exitCode = await run(args)
// A lingering socket must not keep the shell waiting.
setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref()
