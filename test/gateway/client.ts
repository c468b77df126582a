// Test clients: a JSON HTTP helper over fetch, and a WebSocket reader (npm `ws`) with an ordered
// message queue, so tests read "the next message" without racing the socket.
import WebSocket from "ws"

export interface ApiResponse<T> {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  /** The parsed body, typed by the caller (undefined when not JSON). */
  readonly json: T
}

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly details: ReadonlyArray<{ path: string; message: string }> }
}

export const api = async <T = ErrorBody>(
  baseUrl: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; raw?: string | Uint8Array; headers?: Record<string, string> } = {}
): Promise<ApiResponse<T>> => {
  const headers: Record<string, string> = { ...opts.headers }
  if (opts.token !== undefined) headers["authorization"] = `Bearer ${opts.token}`
  let body: string | Uint8Array | undefined
  if (opts.raw !== undefined) body = opts.raw
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body)
    headers["content-type"] ??= "application/json"
  }
  const r = await fetch(baseUrl + path, { method, headers, body: body instanceof Uint8Array ? new Blob([new Uint8Array(body)]) : body })
  const text = await r.text()
  let json: unknown = undefined
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: r.status, headers: r.headers, text, json: json as T }
}

export class WsReader<M = unknown> {
  readonly messages: Array<M> = []
  private waiters: Array<() => void> = []
  closed: { code: number; reason: string } | null = null
  constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      this.messages.push(JSON.parse(String(data)) as M)
      for (const w of this.waiters.splice(0)) w()
    })
    ws.on("close", (code, reason) => {
      this.closed = { code, reason: String(reason) }
      for (const w of this.waiters.splice(0)) w()
    })
  }

  /** Resolves when `pred` holds over the messages received so far (or rejects after timeoutMs). */
  async until<T>(pred: (msgs: ReadonlyArray<M>) => T | undefined | false, timeoutMs = 5000, what = "condition"): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const v = pred(this.messages)
      if (v !== undefined && v !== false) return v
      if (this.closed !== null) throw new Error(`socket closed (${this.closed.code}) before ${what}; got ${JSON.stringify(this.messages).slice(0, 500)}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages).slice(-800)}`)
      await new Promise<void>((r) => {
        const t = setTimeout(r, left)
        this.waiters.push(() => {
          clearTimeout(t)
          r()
        })
      })
    }
  }

  /** The n-th message (0-based), waiting for it. */
  nth(n: number, timeoutMs = 5000): Promise<M> {
    return this.until((m) => (m.length > n ? m[n] : undefined), timeoutMs, `message #${n}`)
  }

  close(): void {
    this.ws.close()
  }
}

/** Opens a WebSocket; resolves with a reader once open, or rejects with the HTTP status of a refusal. */
export const openWs = <M = unknown>(url: string, opts: { protocols?: Array<string>; headers?: Record<string, string> } = {}): Promise<WsReader<M>> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocols ?? [], { headers: opts.headers ?? {} })
    const reader = new WsReader<M>(ws)
    ws.once("open", () => resolve(reader))
    ws.once("unexpected-response", (_req, res) => {
      let body = ""
      res.on("data", (c: Buffer) => (body += c.toString()))
      res.on("end", () => reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${body}`), { status: res.statusCode, body, headers: res.headers })))
    })
    ws.once("error", (e) => reject(e))
  })

export const wsUrl = (baseUrl: string, path: string): string => baseUrl.replace(/^http/, "ws") + path
