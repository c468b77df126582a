// One HTTP request/response as the Router sees it, whichever thread holds the connection: captured
// from uWS on this thread, or forwarded from a WS worker thread (which read the body already and
// writes the reply back). uWS's req dies when its callback returns, so everything is captured first.
import type { HttpRequest, HttpResponse } from "../Uws.js"
import { remoteAddress } from "../Uws.js"
import { tooLarge } from "./ApiError.js"
import type { Reply, ResState } from "./Http.js"
import { dropBody, readBody, writeReply } from "./Http.js"

/** The request headers the gateway reads. */
export interface Headers {
  readonly authorization: string
  readonly origin: string
  readonly contentType: string
  readonly contentLength: string
  readonly transferEncoding: string
}

/** A request in plain data (what a worker thread forwards). */
export interface RequestHead {
  /** Lower case, as uWS reports it. */
  readonly method: string
  readonly path: string
  readonly query: string
  readonly ip: string
  readonly headers: Headers
}

export interface Exchange extends RequestHead {
  /** Reads the body, at most `limit` bytes (413 otherwise). Called before the handler returns. */
  readBody(limit: number): Promise<Uint8Array>
  /** Drops a body the answer does not need, before answering; resolves with whether it ended. Called before the handler returns. */
  dropBody(): Promise<boolean>
  reply(reply: Reply, extra: ReadonlyArray<readonly [string, string]>, head: boolean): void
}

export const captureHeaders = (req: HttpRequest): Headers => ({
  authorization: req.getHeader("authorization"),
  origin: req.getHeader("origin"),
  contentType: req.getHeader("content-type"),
  contentLength: req.getHeader("content-length"),
  transferEncoding: req.getHeader("transfer-encoding")
})

/** The client address: X-Forwarded-For's first hop only behind a trusted proxy. */
export const clientIpOf = (trustProxy: boolean) => (res: HttpResponse, req: HttpRequest): string => {
  if (trustProxy) {
    const xff = req.getHeader("x-forwarded-for")
    if (xff !== "") return xff.split(",")[0]!.trim()
  }
  return remoteAddress(res)
}

export const captureHead = (res: HttpResponse, req: HttpRequest, clientIp: (res: HttpResponse, req: HttpRequest) => string): RequestHead => ({
  method: req.getMethod(),
  path: req.getUrl(),
  query: req.getQuery() ?? "",
  ip: clientIp(res, req),
  headers: captureHeaders(req)
})

/** An exchange on this thread's uWS connection. */
export const uwsExchange = (res: HttpResponse, head: RequestHead): Exchange => {
  const st: ResState = { aborted: false, done: false }
  res.onAborted(() => {
    st.aborted = true
  })
  return {
    ...head,
    readBody: (limit) => readBody(res, st, head.headers.contentLength, limit),
    dropBody: () => dropBody(res, st, head.headers.contentLength, head.headers.transferEncoding),
    reply: (reply, extra, isHead) => writeReply(res, st, reply, extra, isHead)
  }
}

/** A request another thread forwarded with its body (or the note that the body was over `limit`). */
export interface ForwardedRequest extends RequestHead {
  readonly body: Uint8Array | null
  readonly bodyTooLarge: boolean
}

export const forwardedExchange = (
  fwd: ForwardedRequest,
  send: (reply: Reply, extra: ReadonlyArray<readonly [string, string]>, head: boolean) => void
): Exchange => {
  let done = false
  return {
    method: fwd.method, path: fwd.path, query: fwd.query, ip: fwd.ip, headers: fwd.headers,
    readBody: (limit) => {
      const cl = fwd.headers.contentLength
      if ((cl !== "" && !(Number(cl) <= limit)) || fwd.bodyTooLarge) return Promise.reject(tooLarge(limit))
      return Promise.resolve(fwd.body ?? new Uint8Array(0))
    },
    // The worker thread read (or dropped) the whole body before forwarding.
    dropBody: () => Promise.resolve(true),
    reply: (reply, extra, isHead) => {
      if (done) return
      done = true
      send(reply, extra, isHead)
    }
  }
}
