// Low-level HTTP over uWS: replies (always corked, never after an abort), bounded body reading
// (413 before or while reading), strict JSON bodies. Route modules never touch uWS directly.
import type { HttpResponse } from "../Uws.js"
import { ApiError, invalid, tooLarge } from "./ApiError.js"

export interface Reply {
  readonly status: number
  readonly body: string | Uint8Array
  readonly contentType: string
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Close the connection after this reply (e.g. an unread request body remains). */
  readonly close?: boolean | undefined
}

export const JSON_TYPE = "application/json; charset=utf-8"

export const json = (value: unknown, status = 200, headers?: Readonly<Record<string, string>>): Reply => ({
  status,
  body: JSON.stringify(value),
  contentType: JSON_TYPE,
  headers
})

export const errorReply = (e: ApiError, close = false): Reply => ({
  status: e.status,
  body: JSON.stringify(e.toJSON()),
  contentType: JSON_TYPE,
  headers: e.headers,
  close
})

export const INTERNAL: ApiError = new ApiError(500, "internal", "internal error")

const STATUS_TEXT: Record<number, string> = {
  200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 304: "Not Modified", 400: "Bad Request",
  401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
  415: "Unsupported Media Type", 426: "Upgrade Required", 429: "Too Many Requests", 500: "Internal Server Error",
  503: "Service Unavailable"
}

export const statusLine = (status: number): string => `${status} ${STATUS_TEXT[status] ?? "Status"}`

/** Tracks whether the client went away; uWS forbids touching `res` after onAborted fired. */
export interface ResState {
  aborted: boolean
  done: boolean
}

/** Writes a whole reply in one corked batch (one syscall), unless aborted or already answered. */
export const writeReply = (
  res: HttpResponse,
  st: ResState,
  reply: Reply,
  extra: ReadonlyArray<readonly [string, string]>,
  head = false
): void => {
  if (st.aborted || st.done) return
  st.done = true
  res.cork(() => {
    res.writeStatus(statusLine(reply.status))
    for (const [k, v] of extra) res.writeHeader(k, v)
    if (reply.headers !== undefined) for (const k in reply.headers) res.writeHeader(k, reply.headers[k]!)
    res.writeHeader("Content-Type", reply.contentType)
    if (reply.close === true) res.writeHeader("Connection", "close")
    if (head) {
      // HEAD: the GET's headers (and its Content-Length) without a body; missing from uWS's typings.
      const len = typeof reply.body === "string" ? Buffer.byteLength(reply.body) : reply.body.byteLength
      ;(res as unknown as { endWithoutBody(length: number, close: boolean): void }).endWithoutBody(len, reply.close === true)
    } else {
      res.end(reply.body, reply.close === true)
    }
  })
}

/**
 * A chunked body over the limit is refused with 413 and the connection closed, but the 413 is sent
 * only once the client pauses (LINGER_IDLE_MS without a chunk), ends its body, or has sent
 * LINGER_BYTES more, and at most LINGER_MAX_MS after the limit was passed. Meanwhile what arrives is
 * dropped, not kept. Closing with request bytes still unread makes the kernel answer with a reset,
 * and a reset can destroy the 413 before the client has read it (seen in CI: the client got nothing).
 */
const LINGER_IDLE_MS = 50
const LINGER_MAX_MS = 1000
const LINGER_BYTES = 8 * 1024 * 1024

/**
 * Reads the request body, at most `limit` bytes. Must be called synchronously inside the route
 * handler (uWS delivers data only to a handler attached before it returns).
 */
export const readBody = (res: HttpResponse, st: ResState, contentLength: string, limit: number): Promise<Uint8Array> =>
  new Promise((resolve, reject) => {
    if (contentLength !== "" && !(Number(contentLength) <= limit)) {
      // Refuse before reading a byte; the connection is closed since the body stays unread.
      reject(tooLarge(limit))
      return
    }
    const chunks: Array<Uint8Array> = []
    let size = 0
    let over = false
    // Past the limit nothing is kept, but the 413 waits until the client pauses (see LINGER_*).
    let dropped = 0
    let timer: ReturnType<typeof setTimeout> | null = null
    let refused = false
    const refuse = (): void => {
      if (refused) return
      refused = true
      if (timer !== null) clearTimeout(timer)
      reject(tooLarge(limit))
    }
    const armIdle = (): void => {
      if (timer !== null) clearTimeout(timer)
      timer = setTimeout(() => {
        // setImmediate runs after the loop has polled the socket: a chunk that was already waiting
        // is read (and re-arms) before the 413 is sent.
        const seen = dropped
        setImmediate(() => {
          if (refused) return
          if (dropped !== seen) armIdle()
          else refuse()
        })
      }, LINGER_IDLE_MS)
    }
    res.onData((chunk, isLast) => {
      if (refused || st.aborted) return
      if (over) {
        dropped += chunk.byteLength
        if (isLast || dropped >= LINGER_BYTES) refuse()
        else armIdle()
        return
      }
      size += chunk.byteLength
      if (size > limit) {
        over = true
        if (isLast) return refuse()
        armIdle()
        setTimeout(refuse, LINGER_MAX_MS)
        return
      }
      // uWS neuters `chunk` when this callback returns: copy it.
      chunks.push(new Uint8Array(chunk.slice(0)))
      if (isLast) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
    })
  })

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** Strict JSON: media type application/json, valid UTF-8, one JSON value. */
export const parseJsonBody = (contentType: string, body: Uint8Array): unknown => {
  const mediaType = contentType.split(";")[0]!.trim().toLowerCase()
  if (mediaType !== "application/json") {
    throw new ApiError(415, "unsupported_media_type", "Content-Type must be application/json", [
      { path: "header.content-type", message: "must be application/json" }
    ])
  }
  let text: string
  try {
    text = utf8.decode(body)
  } catch {
    throw invalid([{ path: "body", message: "is not valid UTF-8" }])
  }
  if (text.trim() === "") throw invalid([{ path: "body", message: "must be a JSON value" }])
  try {
    return JSON.parse(text) as unknown
  } catch (e) {
    throw invalid([{ path: "body", message: `is not valid JSON (${e instanceof Error ? e.message : "parse error"})` }])
  }
}

export const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)
