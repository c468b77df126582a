// What a cluster test asks a partitioned gateway over HTTP (`call`, JSON in and out, an optional
// bearer token), and `until`: poll a state until it holds, failing with the members' log tails (and
// their whole logs written to the temp directory) — shared by the cluster tests that drive a gateway.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { sleep } from "./arena.js"
import type { Member } from "./partitionedMembers.js"

export type Res<A> = { status: number; body: A }

/** How long one call may go unanswered before it fails. */
const CALL_TIMEOUT_MS = 30_000

export const gatewayClient = (procs: ReadonlyArray<Member>, id: string) => {
  /** The gateway's port, once started. */
  let port = 0
  const call = async <A>(method: string, p: string, token: string | null, body?: unknown): Promise<Res<A>> => {
    const r = await fetch(`http://127.0.0.1:${port}${p}`, {
      method,
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      // A request the gateway never answers fails (naming itself) instead of hanging `until` with it.
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS)
    }).catch((e: unknown) => { throw new Error(`${method} ${p}: ${e instanceof Error ? e.message : String(e)}`) })
    return { status: r.status, body: await r.json() as A }
  }
  /** Polls `f` until it returns a value (not undefined); fails naming `what` after `ms`. */
  const until = async <A>(what: string, f: () => Promise<A | undefined>, ms = 60_000): Promise<A> => {
    const end = Date.now() + ms
    let last: unknown = null
    for (;;) {
      try {
        const v = await f()
        if (v !== undefined) return v
      } catch (e) { last = e }
      if (Date.now() > end) {
        for (const p of procs) fs.writeFileSync(path.join(os.tmpdir(), `${id}-${p.name}.log`), p.log)
        throw new Error(`${what}: not reached within ${ms} ms (${last instanceof Error ? last.message : String(last)})\n${procs.map((p) => `--- ${p.name}\n${p.log.slice(-1500)}`).join("\n")}\n(whole logs: ${os.tmpdir()}/${id}-<name>.log)`)
      }
      await sleep(150)
    }
  }
  return { call, until, setPort: (p: number) => { port = p }, port: () => port }
}
