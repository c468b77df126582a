// Shadow builds of retroactive applies as child processes: `arena rules reproject <projection>
// --progress-json` with the service's environment, at a lower CPU priority (nice 10) like the dry
// runs, so the live path keeps its latency. Its stdin is a pipe the child watches: when the service
// dies (even kill -9) the build exits with it. Progress from stderr JSON lines.
import { spawn } from "node:child_process"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { BuildOutcome, BuildProgress, ReprojectionBuilder } from "../../ports/Projections.js"

const ARENA_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../bin/arena")
const TAIL = 4000

export class ReprojectionBuilds implements ReprojectionBuilder {
  private readonly children = new Set<ReturnType<typeof spawn>>()

  constructor(private readonly o: { readonly env: NodeJS.ProcessEnv; readonly log: (line: string) => void; readonly niceness?: number }) {}

  build(projection: number, onProgress: (p: BuildProgress) => void): Promise<BuildOutcome> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [ARENA_BIN, "rules", "reproject", String(projection), "--progress-json"], { env: this.o.env, stdio: ["pipe", "pipe", "pipe"] })
      this.children.add(child)
      try {
        if (child.pid !== undefined) os.setPriority(child.pid, this.o.niceness ?? 10)
      } catch { /* not permitted here: it runs at normal priority */ }
      this.o.log(`re-projection ${projection}: shadow build started (child pid ${child.pid ?? "?"})`)
      let tail = ""
      let partial = ""
      child.stdout.resume()
      child.stderr.on("data", (b: Buffer) => {
        const lines = (partial + b.toString()).split("\n")
        partial = lines.pop()!
        for (const line of lines) {
          if (line.startsWith("{\"progress\":")) {
            try { onProgress((JSON.parse(line) as { progress: BuildProgress }).progress) } catch { /* a torn line: the next one comes */ }
          } else tail = (tail + line + "\n").slice(-TAIL)
        }
      })
      child.once("error", (e) => { this.children.delete(child); resolve({ ok: false, error: `could not start the shadow build: ${e.message}` }) })
      child.once("close", (code, signal) => {
        this.children.delete(child)
        if (code === 0) resolve({ ok: true })
        else resolve({ ok: false, error: `the shadow build exited with ${code ?? signal}: ${tail.trim().split("\n").slice(-3).join(" | ")}` })
      })
    })
  }

  /** Stops running builds (service shutdown): the next start resumes them from Postgres. */
  close(): void {
    for (const c of this.children) c.kill("SIGTERM")
  }
}
