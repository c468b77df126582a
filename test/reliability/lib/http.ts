// HTTP for reliability/security tests: node:http (paths sent verbatim, no fetch normalization)
// from a chosen loopback source address, so many "clients" (127.0.0.x) stay under per-IP limits,
// plus a raw-bytes request for what an HTTP client library refuses to send.
import * as http from "node:http"
import * as net from "node:net"

export interface Reply<T = unknown> {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly text: string
  /** Parsed JSON body, or undefined. */
  readonly json: T
}

export interface ErrorJson {
  readonly error: { readonly code: string; readonly message: string; readonly details: ReadonlyArray<{ path: string; message: string }> }
}

/** Round-robin over 127.0.0.2 … 127.0.<n+1>.* source addresses (all routed to lo on Linux). */
export class SourceIps {
  private i = 0
  constructor(private readonly count = 200, private readonly thirdOctet = 1) {}
  next(): string {
    const k = this.i++ % this.count
    return `127.0.${this.thirdOctet + Math.floor(k / 250)}.${2 + (k % 250)}`
  }
}

export const request = <T = ErrorJson>(
  baseUrl: string,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string | Uint8Array; json?: unknown; token?: string; from?: string; timeoutMs?: number } = {}
): Promise<Reply<T>> =>
  new Promise((resolve, reject) => {
    const u = new URL(baseUrl)
    const headers: Record<string, string> = { ...opts.headers }
    let body = opts.body
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json)
      headers["content-type"] ??= "application/json"
    }
    if (opts.token !== undefined) headers["authorization"] = `Bearer ${opts.token}`
    const req = http.request({
      host: u.hostname, port: Number(u.port), method, path, headers, agent: false,
      ...(opts.from === undefined ? {} : { localAddress: opts.from })
    }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8")
        let json: unknown
        try { json = JSON.parse(text) } catch { json = undefined }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: json as T })
      })
      res.on("error", reject)
    })
    // A WebSocket upgrade that succeeds: report 101 and hang up.
    req.on("upgrade", (res, socket) => {
      socket.destroy()
      resolve({ status: res.statusCode ?? 101, headers: res.headers, text: "", json: undefined as T })
    })
    const sentAt = Date.now()
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`${method} ${path}: no answer`)))
    // Which request failed, from where and when: a bare "socket hang up" says none of it.
    req.on("error", (e: Error) => reject(Object.assign(new Error(`${method} ${path}${opts.from === undefined ? "" : ` from ${opts.from}`}: ${e.message} after ${Date.now() - sentAt} ms`), { cause: e, code: (e as { code?: string }).code })))
    req.end(body)
  })

/** Percent-encodes every byte of the UTF-8 form except unreserved characters (lone surrogates become U+FFFD). */
export const pct = (s: string): string =>
  [...Buffer.from(s, "utf8")].map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`)).join("")

/**
 * Sends `bytes` as-is on a fresh connection; resolves with the status code (0: the server closed
 * without answering) and the raw answer, once headers plus Content-Length bytes arrived (headers
 * only for HEAD), the server closed, or `timeoutMs` passed.
 */
export const rawRequest = (port: number, bytes: Uint8Array | string, from?: string, timeoutMs = 5_000): Promise<{ status: number; text: string }> =>
  new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port, ...(from === undefined ? {} : { localAddress: from }) })
    const chunks: Array<Buffer> = []
    const done = () => {
      const text = Buffer.concat(chunks).toString("latin1")
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text)
      resolve({ status: m === null ? 0 : Number(m[1]), text })
    }
    s.setTimeout(timeoutMs, () => { s.destroy(); done() })
    s.on("data", (c: Buffer) => {
      chunks.push(c)
      // One answer is enough: stop once the headers and a Content-Length worth of body arrived.
      const text = Buffer.concat(chunks).toString("latin1")
      const head = text.indexOf("\r\n\r\n")
      const len = /content-length: *(\d+)/i.exec(text)
      const isHead = String(bytes).startsWith("HEAD ")
      if (head >= 0 && (isHead || (len !== null && Buffer.byteLength(text.slice(head + 4), "latin1") >= Number(len[1])))) { s.destroy(); done() }
    })
    s.on("end", done)
    s.on("error", (e) => (chunks.length > 0 ? done() : reject(e)))
    s.write(bytes)
  })

/** Sets of every JSON error body's detail paths (for "names the field" assertions). */
export const pathsOf = (r: Reply<ErrorJson>): Array<string> => r.json?.error?.details?.map((d) => d.path) ?? []
