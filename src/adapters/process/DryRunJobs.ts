// The DryRunPort as child processes: each dry run is `arena rules diff <tmp file> --json
// --progress-json` with the service's own environment (same stream, same database), at a lower CPU
// priority (nice 10) so the service's queries keep their latency while it runs. Progress comes from its
// stderr JSON lines, the report from its stdout. One at a time; the last few jobs are kept.
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Result } from "effect"
import { loadRules } from "../../domain/Rules.js"
import type { DryRunJobView, DryRunPort, DryRunStart } from "../../ports/DryRuns.js"

const ARENA_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../bin/arena")
const KEEP = 16
const TAIL = 4000

interface Job {
  view: DryRunJobView
}

export interface DryRunJobsOptions {
  /** Environment of the child (the service's: NATS_URL, DATABASE_URL, ARENA_STREAM, ARENA_RULES, …). */
  readonly env: NodeJS.ProcessEnv
  readonly log: (line: string) => void
  /** Niceness of the child (default 10: the service, at 0, gets ~90% of a core they share). */
  readonly niceness?: number
}

export class DryRunJobs implements DryRunPort {
  private readonly jobs = new Map<string, Job>()
  private running: string | null = null
  private child: ReturnType<typeof spawn> | null = null

  constructor(private readonly o: DryRunJobsOptions) {}

  start(rules: unknown): DryRunStart {
    const compiled = loadRules(rules)
    if (Result.isFailure(compiled)) {
      return { ok: false, status: 400, code: "invalid_rules", message: compiled.failure.message, details: compiled.failure.issues.map((i) => ({ path: `body.${i.path}`.replace(/\.$/, ""), message: i.message })) }
    }
    if (this.running !== null) {
      return { ok: false, status: 409, code: "dry_run_running", message: `dry run ${this.running} is still running; wait for it (GET /v1/rules/dry-run/${this.running})`, details: [] }
    }
    const id = randomBytes(9).toString("base64url")
    const file = path.join(os.tmpdir(), `arena-dry-run-${id}.json`)
    fs.writeFileSync(file, JSON.stringify(rules))
    const job: Job = {
      view: { job_id: id, status: "running", version: compiled.success.version, started_at: new Date().toISOString(), finished_at: null, progress: null, result: null, error: null }
    }
    this.jobs.set(id, job)
    this.running = id
    while (this.jobs.size > KEEP) this.jobs.delete(this.jobs.keys().next().value!)
    const child = spawn(process.execPath, [ARENA_BIN, "rules", "diff", file, "--json", "--progress-json"], { env: this.o.env, stdio: ["ignore", "pipe", "pipe"] })
    this.child = child
    try {
      if (child.pid !== undefined) os.setPriority(child.pid, this.o.niceness ?? 10)
    } catch { /* not permitted here: it runs at normal priority */ }
    this.o.log(`dry run ${id}: rules ${compiled.success.version} (child pid ${child.pid ?? "?"})`)
    const out: Array<Buffer> = []
    let tail = ""
    let partial = ""
    child.stdout.on("data", (b: Buffer) => out.push(b))
    child.stderr.on("data", (b: Buffer) => {
      const lines = (partial + b.toString()).split("\n")
      partial = lines.pop()!
      for (const line of lines) {
        if (line.startsWith("{\"progress\":")) {
          try { job.view = { ...job.view, progress: (JSON.parse(line) as { progress: DryRunJobView["progress"] }).progress } } catch { /* a torn line: the next one comes */ }
        } else tail = (tail + line + "\n").slice(-TAIL)
      }
    })
    const finish = (error: string | null, result: unknown): void => {
      fs.rmSync(file, { force: true })
      job.view = { ...job.view, status: error === null ? "done" : "failed", finished_at: new Date().toISOString(), result, error }
      if (this.running === id) { this.running = null; this.child = null }
      this.o.log(`dry run ${id}: ${error === null ? "done" : `failed: ${error}`}`)
    }
    child.once("error", (e) => finish(`could not start the dry run: ${e.message}`, null))
    child.once("close", (code) => {
      if (job.view.status !== "running") return
      if (code !== 0) return finish(`the dry run exited with ${code}: ${tail.trim().split("\n").slice(-3).join(" | ")}`, null)
      try {
        finish(null, JSON.parse(Buffer.concat(out).toString()))
      } catch (e) {
        finish(`the dry run's report is not JSON: ${(e as Error).message}`, null)
      }
    })
    return { ok: true, job: job.view }
  }

  get(jobId: string): DryRunJobView | null {
    return this.jobs.get(jobId)?.view ?? null
  }

  /** Stops a running dry run (service shutdown): it only reads, so nothing is lost. */
  close(): void {
    this.child?.kill("SIGTERM")
  }
}
