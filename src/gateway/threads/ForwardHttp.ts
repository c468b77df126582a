// HTTP on a WS worker thread: every request that is not a WebSocket upgrade is captured (with its
// body, at most the body limit) and forwarded to the main thread's Router; the answer is written
// back on this thread's connection. One Router, one set of limits and metrics, whichever thread.
import type { ForwardedRequest, RequestHead } from "../http/Exchange.js"
import { captureHead } from "../http/Exchange.js"
import type { OnData, Reply, ResState } from "../http/Http.js"
import { dropping, hasBody, writeReply } from "../http/Http.js"
import type { HttpRequest, HttpResponse } from "../Uws.js"

export interface HttpAnswer {
  readonly reply: Reply
  readonly extra: ReadonlyArray<readonly [string, string]>
  readonly head: boolean
}

export const forwardHttp = (
  bodyLimit: number,
  clientIp: (res: HttpResponse, req: HttpRequest) => string,
  send: (req: ForwardedRequest) => Promise<HttpAnswer>
) => (res: HttpResponse, req: HttpRequest): void => {
  const head: RequestHead = captureHead(res, req, clientIp)
  const st: ResState = { aborted: false, done: false }
  res.onAborted(() => {
    st.aborted = true
  })
  const go = (body: Uint8Array | null, bodyTooLarge: boolean): void => {
    send({ ...head, body, bodyTooLarge }).then(
      (a) => writeReply(res, st, a.reply, a.extra, a.head),
      () => { if (!st.aborted && !st.done) { st.done = true; res.cork(() => res.close()) } }
    )
  }
  const { contentLength: cl, transferEncoding: te } = head.headers
  if (!hasBody(cl, te)) return go(null, false)
  // Over the limit (by Content-Length, or once it passes it): nothing is kept, and the request is
  // forwarded (for its 413) once the body has passed, so the close is no reset (Http.ts, LINGER_*).
  const tooLarge = (): void => go(null, true)
  let drop: OnData | null = cl !== "" && !(Number(cl) <= bodyLimit) ? dropping(st, true, tooLarge) : null
  const chunks: Array<Uint8Array> = []
  let size = 0
  res.onData((chunk, isLast) => {
    if (drop !== null) return drop(chunk, isLast)
    if (st.aborted) return
    size += chunk.byteLength
    if (size > bodyLimit) {
      drop = dropping(st, cl !== "", tooLarge)
      return drop(chunk, isLast)
    }
    // uWS neuters `chunk` when this callback returns: copy it.
    chunks.push(new Uint8Array(chunk.slice(0)))
    if (isLast) go(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), false)
  })
}
