// Low-level HTTP over uWS: replies (always corked, never after an abort), bounded body reading
// (413 before or while reading), strict JSON bodies. Route modules never touch uWS directly.
import type { HttpResponse } from "../Uws.js"
import { ApiError, invalid, tooLarge } from "./ApiError.js"

export interface Reply {
  readonly status: number
  readonly body: string | Uint8Array
  readonly contentType: string
  readonly headers?: Readonly<Record<string, string>> | undefined
  /**
   * Close the connection after this reply (e.g. an unread request body remains). "lingering":
   * say `Connection: close` but leave the closing to the client (or uWS's idle timeout) while the
   * rest of the body is read and dropped (see readBody: a chunked body past the limit).
   */
  readonly close?: boolean | "lingering" | undefined
}

export const JSON_TYPE = "application/json; charset=utf-8"

export const json = (value: unknown, status = 200, headers?: Readonly<Record<string, string>>): Reply => ({
  status,
  body: JSON.stringify(value),
  contentType: JSON_TYPE,
  headers
})

export const errorReply = (e: ApiError, close: boolean | "lingering" = false): Reply => ({
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
    if (reply.close === true || reply.close === "lingering") res.writeHeader("Connection", "close")
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
 * Lingering refusal. Answering and closing while request bytes are still unread makes the kernel
 * reset the connection, and a reset can destroy the answer before the client read it, or hit the
 * client with EPIPE while it still sends (both seen in CI). So a body that will not be used (over
 * the limit, or refused before reading: 401, 429, 404) is read and dropped, never kept, and the
 * answer goes out once the client ends it, has sent LINGER_BYTES, or LINGER_MAX_MS passed — or,
 * when its length is unknown (chunked) or nothing arrived yet (a client awaiting 100-continue),
 * once it pauses LINGER_IDLE_MS.
 */
const LINGER_IDLE_MS = 50
const LINGER_MAX_MS = 1000
const LINGER_BYTES = 8 * 1024 * 1024

export type OnData = (chunk: ArrayBuffer, isLast: boolean) => void

/** An onData handler that drops a body's bytes and calls `done` once (see LINGER_*), saying whether the body ended. */
export const dropping = (st: ResState, knownLength: boolean, done: (ended: boolean) => void): OnData => {
  let dropped = 0
  let idle: ReturnType<typeof setTimeout> | null = null
  let finished = false
  const finish = (ended: boolean): void => {
    if (finished) return
    finished = true
    if (idle !== null) clearTimeout(idle)
    clearTimeout(max)
    if (!st.aborted) done(ended)
  }
  const max = setTimeout(() => finish(false), LINGER_MAX_MS)
  const armIdle = (): void => {
    if (idle !== null) clearTimeout(idle)
    idle = null
    if (knownLength && dropped > 0) return
    idle = setTimeout(() => {
      // setImmediate runs after the loop has polled the socket: a chunk that was already waiting
      // is read (and re-arms) before the answer goes out.
      const seen = dropped
      setImmediate(() => (dropped !== seen ? armIdle() : finish(false)))
    }, LINGER_IDLE_MS)
  }
  armIdle()
  return (chunk, isLast) => {
    if (finished) return
    if (st.aborted) return finish(false)
    dropped += chunk.byteLength
    if (isLast || dropped >= LINGER_BYTES) finish(isLast)
    else armIdle()
  }
}

const ignore: OnData = () => undefined

/** How to close after refusing a body that readBody rejected: see readBody. */
export const bodyRefusalClose = (contentLength: string): true | "lingering" => contentLength === "" ? "lingering" : true

/** True when the request announces a body (a Content-Length other than 0, or chunked). */
export const hasBody = (contentLength: string, transferEncoding: string): boolean =>
  (contentLength !== "" && contentLength !== "0") || transferEncoding !== ""

/**
 * Drops an unread body before an answer that does not need it (see LINGER_*); resolves with
 * whether the body ended (true at once when there is none; false: close after answering). Must be
 * called synchronously inside the route handler, like readBody.
 */
export const dropBody = (res: HttpResponse, st: ResState, contentLength: string, transferEncoding: string): Promise<boolean> =>
  hasBody(contentLength, transferEncoding)
    ? new Promise((resolve) => res.onData(dropping(st, contentLength !== "", resolve)))
    : Promise.resolve(true)

/**
 * Reads the request body, at most `limit` bytes; past it (or when Content-Length says so) nothing
 * is kept. A body of known length gets its 413 by the lingering rules. A chunked body (length
 * unknown) gets it at once, with `Connection: close`, and the rest is read and dropped while the
 * client decides to stop: closing on a guess that it paused (LINGER_IDLE_MS) reset connections of
 * clients still sending on a loaded machine and destroyed the answer before they read it (a CI run
 * saw an empty answer). The rejection's reply must use `close: "lingering"` (bodyRefusalClose).
 * Must be called synchronously inside the route handler (uWS delivers data only to a handler
 * attached before it returns).
 */
export const readBody = (res: HttpResponse, st: ResState, contentLength: string, limit: number): Promise<Uint8Array> =>
  new Promise((resolve, reject) => {
    const refuse = (): void => reject(tooLarge(limit))
    // Refused from the header alone: nothing is kept, the 413 waits for the body to pass.
    let drop: OnData | null = contentLength !== "" && !(Number(contentLength) <= limit) ? dropping(st, true, refuse) : null
    const chunks: Array<Uint8Array> = []
    let size = 0
    res.onData((chunk, isLast) => {
      if (drop !== null) return drop(chunk, isLast)
      if (st.aborted) return
      size += chunk.byteLength
      if (size > limit) {
        if (contentLength !== "") {
          drop = dropping(st, true, refuse)
          return drop(chunk, isLast)
        }
        drop = ignore
        return refuse()
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
