// A loopback TCP proxy a test can cut and restore (e.g. in front of Postgres): `cut()` resets
// every open connection and refuses new ones (a crashed or unreachable server), `restore()` lets
// connections through again. Only the service under test goes through it.
import * as net from "node:net"

export class TcpProxy {
  private server: net.Server | null = null
  private readonly pairs = new Set<readonly [net.Socket, net.Socket]>()
  private up = true
  port = 0
  /** Connections refused while cut (evidence the service kept trying). */
  refused = 0

  constructor(private readonly targetHost: string, private readonly targetPort: number) {}

  async listen(): Promise<number> {
    const server = net.createServer((client) => {
      if (!this.up) {
        this.refused++
        client.resetAndDestroy()
        return
      }
      const upstream = net.connect({ host: this.targetHost, port: this.targetPort })
      const pair = [client, upstream] as const
      this.pairs.add(pair)
      const drop = () => {
        this.pairs.delete(pair)
        client.destroy()
        upstream.destroy()
      }
      client.on("error", drop).on("close", drop)
      upstream.on("error", drop).on("close", drop)
      client.pipe(upstream)
      upstream.pipe(client)
    })
    this.server = server
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
    this.port = (server.address() as net.AddressInfo).port
    return this.port
  }

  /** Down: reset every connection (RST, as a dead host would) and refuse new ones. */
  cut(): void {
    this.up = false
    for (const [a, b] of [...this.pairs]) {
      a.resetAndDestroy()
      b.destroy()
    }
    this.pairs.clear()
  }

  /** Half down: open connections keep working, new ones are refused (reset). */
  refuseNew(): void {
    this.up = false
  }

  restore(): void {
    this.up = true
  }

  get open(): number {
    return this.pairs.size
  }

  async close(): Promise<void> {
    this.cut()
    await new Promise<void>((resolve) => (this.server === null ? resolve() : this.server.close(() => resolve())))
  }
}
