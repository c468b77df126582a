// The DryRunPort as child processes: each dry run is `arena rules diff <tmp file> --json
// --progress-json` with the service's own environment (same stream, same database), at a lower CPU
// priority (nice 10) so the service's queries keep their latency while it runs. Progress comes from its
// stderr JSON lines, the report from its stdout. One at a time; the last few jobs are kept, in
// memory (MemoryDryRunRecords, the single process) or in the DryRunRecords given (Postgres: every
// gateway of a partitioned deployment). A running job's record is saved on each progress line and
// every `beatMs` (its sign of life), in order, one save at a time.
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Result } from "effect"
import { loadRules } from "../../domain/Rules.js"
import { DryRunRecordsUnavailable } from "../../ports/DryRuns.js"
import type { DryRunJobView, DryRunPort, DryRunRecords, DryRunStart } from "../../ports/DryRuns.js"

const ARENA_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../bin/arena")
const KEEP = 16
const TAIL = 4000

/** The single process's records: this process's memory, the last KEEP jobs. */
export class MemoryDryRunRecords implements DryRunRecords {
  readonly kept = `in memory: the last ${KEEP} since the service started`
  private readonly jobs = new Map<string, DryRunJobView>()

  claim(view: DryRunJobView): Promise<string | null> {
    for (const j of this.jobs.values()) if (j.status === "running") return Promise.resolve(j.job_id)
    this.jobs.set(view.job_id, view)
    while (this.jobs.size > KEEP) this.jobs.delete(this.jobs.keys().next().value!)
    return Promise.resolve(null)
  }

  save(view: DryRunJobView): Promise<void> {
    if (this.jobs.get(view.job_id)?.status === "running") this.jobs.set(view.job_id, view)
    return Promise.resolve()
  }

  get(jobId: string): Promise<DryRunJobView | null> {
    return Promise.resolve(this.jobs.get(jobId) ?? null)
  }
}

export interface DryRunJobsOptions {
  /** Environment of the child (the service's: NATS_URL, DATABASE_URL, ARENA_STREAM, ARENA_RULES, …). */
  readonly env: NodeJS.ProcessEnv
  readonly log: (line: string) => void
  /** Niceness of the child (default 10: the service, at 0, gets ~90% of a core they share). */
  readonly niceness?: number
  /** Where the jobs' records live (default: this process's memory). */
  readonly records?: DryRunRecords
  /** How often a running job's record is saved besides its progress lines (its sign of life; default 5 s). */
  readonly beatMs?: number
}

export class DryRunJobs implements DryRunPort {
  private readonly records: DryRunRecords
  private child: ReturnType<typeof spawn> | null = null
  /** The running job's saves, in order (a later view never lands before an earlier one). */
  private saves: Promise<void> = Promise.resolve()
  private closed = false

  constructor(private readonly o: DryRunJobsOptions) {
    this.records = o.records ?? new MemoryDryRunRecords()
  }

  get kept(): string {
    return this.records.kept
  }

  async start(rules: unknown): Promise<DryRunStart> {
    const compiled = loadRules(rules)
    if (Result.isFailure(compiled)) {
      return { ok: false, status: 400, code: "invalid_rules", message: compiled.failure.message, details: compiled.failure.issues.map((i) => ({ path: `body.${i.path}`.replace(/\.$/, ""), message: i.message })) }
    }
    if (this.closed) return { ok: false, status: 503, code: "unavailable", message: "the service is stopping; retry later", details: [] }
    const id = randomBytes(9).toString("base64url")
    const job: { view: DryRunJobView } = {
      view: { job_id: id, status: "running", version: compiled.success.version, started_at: new Date().toISOString(), finished_at: null, progress: null, result: null, error: null }
    }
    let running: string | null
    try {
      running = await this.records.claim(job.view)
    } catch (e) {
      if (e instanceof DryRunRecordsUnavailable) return { ok: false, status: 503, code: "unavailable", message: `dry runs are not available right now: ${e.message}; retry later`, details: [] }
      throw e
    }
    if (running !== null) {
      return { ok: false, status: 409, code: "dry_run_running", message: `dry run ${running} is still running; wait for it (GET /v1/rules/dry-run/${running})`, details: [] }
    }
    const save = (view: DryRunJobView): void => {
      this.saves = this.saves.then(() => this.records.save(view)).catch((e: unknown) => this.o.log(`dry run ${id}: its record was not saved: ${e instanceof Error ? e.message : String(e)}`))
    }
    const file = path.join(os.tmpdir(), `arena-dry-run-${id}.json`)
    fs.writeFileSync(file, JSON.stringify(rules))
    const beat = setInterval(() => save(job.view), this.o.beatMs ?? 5_000)
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
          try { job.view = { ...job.view, progress: (JSON.parse(line) as { progress: DryRunJobView["progress"] }).progress }; save(job.view) } catch { /* a torn line: the next one comes */ }
        } else tail = (tail + line + "\n").slice(-TAIL)
      }
    })
    const finish = (error: string | null, result: unknown): void => {
      fs.rmSync(file, { force: true })
      clearInterval(beat)
      job.view = { ...job.view, status: error === null ? "done" : "failed", finished_at: new Date().toISOString(), result, error }
      save(job.view)
      if (this.child === child) this.child = null
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

  get(jobId: string): Promise<DryRunJobView | null> {
    return this.records.get(jobId)
  }

  /**
   * Stops a running dry run (service shutdown): it only reads, so nothing is lost. Waits (up to 5 s)
   * for the child to end and its record to be saved as failed, so no record stays running.
   */
  async close(): Promise<void> {
    this.closed = true
    const child = this.child
    if (child !== null && child.exitCode === null && child.signalCode === null) {
      const ended = new Promise<void>((resolve) => child.once("close", () => resolve()))
      child.kill("SIGTERM")
      await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 5_000).unref())])
    }
    await this.saves
  }
}
