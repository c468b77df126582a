// scripts/up.sh's wait for the service (wait_ready in scripts/lib/service.sh), tested in isolation
// against a tiny fake /readyz (running the whole up.sh — npm ci, services, build — is too heavy for
// this): it stops at the first answer that says fatal and prints the service's sentence, and it
// keeps waiting through answers that are merely not ready yet.
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, expect, it } from "vitest"

const ROOT = path.resolve(import.meta.dirname, "../..")
const FATAL = "fatal, not retried: the snapshot in Postgres belongs to stream ARENA_XP created 2026-01-01T00:00:00Z, but ARENA_XP was created 2026-02-01T00:00:00Z: the stream was recreated. Point DATABASE_URL at a fresh database (or drop this one) to rebuild from the stream."

const cleanups: Array<() => void> = []
afterEach(() => { for (const c of cleanups.splice(0)) c() })

/** A /readyz that gives `answers` in turn (the last one forever) and counts the requests. */
const fakeReadyz = async (answers: ReadonlyArray<{ status: number; body: unknown }>) => {
  let hits = 0
  const server = http.createServer((_req, res) => {
    const a = answers[Math.min(hits, answers.length - 1)]!
    hits++
    res.writeHead(a.status, { "content-type": "application/json" }).end(JSON.stringify(a.body))
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  cleanups.push(() => server.close())
  const port = (server.address() as { port: number }).port
  return { url: `http://127.0.0.1:${port}/readyz`, hits: () => hits }
}

/** Runs wait_ready against `url` with a stand-in for the service process; its own run dir, so no real pid file is touched. */
const waitReady = (url: string, timeoutS: number): Promise<{ code: number | null; out: string }> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arena-wait-"))
  const stand: ChildProcess = spawn("sleep", ["600"], { stdio: "ignore" })
  cleanups.push(() => { stand.kill("SIGKILL"); fs.rmSync(dir, { recursive: true, force: true }) })
  const script = `set -euo pipefail
source scripts/lib/common.sh
source scripts/lib/service.sh
ARENA_RUN_DIR="$1"
wait_ready "$2" "$3" "$4" "$1/arena.log"`
  return new Promise((resolve) => {
    const c = spawn("bash", ["-c", script, "wait", dir, String(stand.pid), url, String(timeoutS)], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    c.stdout.on("data", (b: Buffer) => (out += b.toString()))
    c.stderr.on("data", (b: Buffer) => (out += b.toString()))
    c.on("close", (code) => resolve({ code, out }))
  })
}

it("stops at the first answer that says fatal, exits non-zero and prints the service's sentence", async () => {
  const readyz = await fakeReadyz([{ status: 503, body: { ready: false, fatal: true, reasons: [FATAL, "clickhouse: unavailable"], details: {} } }])
  const r = await waitReady(readyz.url, 600)
  expect(r.code).not.toBe(0)
  expect(r.out).toContain(`the service reports a fatal condition that retrying cannot fix: ${FATAL}`)
  // At once: one poll, not a wait for the 600 s timeout.
  expect(readyz.hits()).toBe(1)
})

it("keeps waiting while the service is merely not ready, and returns once it is", async () => {
  const notYet = { status: 503, body: { ready: false, fatal: false, reasons: ["pipeline loading: at seq 0 of 10"], details: {} } }
  const readyz = await fakeReadyz([notYet, notYet, { status: 200, body: { ready: true, fatal: false, reasons: [], details: {} } }])
  const r = await waitReady(readyz.url, 600)
  expect(r.code).toBe(0)
  expect(r.out).toMatch(/ready \(\d+s\)/)
  expect(readyz.hits()).toBe(3)
})
