// A private nats-server with JetStream on its own port and store directory, which a test may
// kill (-9 or TERM) and restart on the same port and store: the machine's NATS is never touched.
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

const BIN = fs.existsSync("/usr/sbin/nats-server") ? "/usr/sbin/nats-server" : "nats-server"

/** A port that was free a moment ago (bind :0, close). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })

export class PrivateNats {
  child: ChildProcess | null = null
  log = ""
  readonly storeDir = fs.mkdtempSync(path.join(os.tmpdir(), "arena-nats-"))
  constructor(readonly port: number) {}

  get url(): string { return `nats://127.0.0.1:${this.port}` }

  static async create(): Promise<PrivateNats> {
    const n = new PrivateNats(await freePort())
    await n.start()
    return n
  }

  /**
   * Starts (or restarts) the server; resolves once it accepts clients. `jetstream: false` brings
   * it back without JetStream (the store untouched): JetStream unavailable while NATS is up.
   */
  async start(opts: { jetstream?: boolean } = {}): Promise<void> {
    const js = opts.jetstream === false ? [] : ["-js", "-sd", this.storeDir]
    const child = spawn(BIN, [...js, "-a", "127.0.0.1", "-p", String(this.port)], { stdio: ["ignore", "pipe", "pipe"] })
    this.child = child
    await new Promise<void>((resolve, reject) => {
      const onData = (b: Buffer) => {
        this.log += b.toString()
        if (this.log.includes("Server is ready")) resolve()
      }
      child.stdout!.on("data", onData)
      child.stderr!.on("data", onData)
      child.once("exit", (code) => reject(new Error(`nats-server exited ${code}:\n${this.log.slice(-2000)}`)))
      setTimeout(() => reject(new Error(`nats-server not ready in 20 s:\n${this.log.slice(-2000)}`)), 20_000).unref()
    })
  }

  /** Stops it: SIGKILL (crash) or SIGTERM (clean shutdown). */
  async stop(signal: "SIGKILL" | "SIGTERM" = "SIGKILL"): Promise<void> {
    const c = this.child
    if (c === null || c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise<void>((r) => c.once("exit", () => r()))
    c.kill(signal)
    await exited
    this.child = null
  }

  async destroy(): Promise<void> {
    await this.stop("SIGKILL")
    fs.rmSync(this.storeDir, { recursive: true, force: true })
  }
}
