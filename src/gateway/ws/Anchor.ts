// A WebSocket each socket-holding thread keeps to itself, so an upgrade completed after an await
// always has a socket to cork (leaderboardSocket.ts, Anchors), even the first one on the thread:
// a private loopback listener, a random path, no pings, a bare TCP client that ignores the rest.
import { randomBytes } from "node:crypto"
import * as net from "node:net"
import type { TemplatedApp, WebSocket, us_listen_socket } from "../Uws.js"
import { uWS } from "../Uws.js"

export interface AnchorSet {
  add(ws: WebSocket<unknown>): void
  delete(ws: WebSocket<unknown>): void
}

const OPEN_TIMEOUT_MS = 5000
const RECONNECT_MS = 1000

/**
 * Registers the anchor route on `app`, listens on 127.0.0.1 (an ephemeral port of this thread
 * only) and connects; resolves once the anchor is open (or after OPEN_TIMEOUT_MS: upgrades then
 * run uncorked until it is). Returns what stops it, to call before the app closes.
 */
export const holdAnchor = async (app: TemplatedApp, anchors: AnchorSet, warn: (m: string) => void): Promise<() => void> => {
  const path = `/_arena/anchor/${randomBytes(16).toString("hex")}`
  let stopped = false
  let client: net.Socket | null = null
  let opened: () => void = () => undefined
  const open = new Promise<void>((resolve) => { opened = resolve })
  let port = 0
  const connect = (): void => {
    if (stopped) return
    const s = net.connect({ host: "127.0.0.1", port })
    s.unref()
    s.on("error", () => undefined) // its close handler reconnects
    s.on("data", () => undefined)
    s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
    client = s
  }
  app.ws(path, {
    idleTimeout: 0,
    sendPingsAutomatically: false,
    maxPayloadLength: 16,
    compression: uWS.DISABLED,
    // Synchronous, inside uWS's own cork: no admission, nothing counted (not a client's socket).
    upgrade: (res, req, context) => res.upgrade({}, req.getHeader("sec-websocket-key"), "", "", context),
    open: (ws) => {
      anchors.add(ws)
      opened()
    },
    close: (ws) => {
      anchors.delete(ws)
      if (!stopped) setTimeout(connect, RECONNECT_MS).unref()
    }
  })
  const listenSocket = await new Promise<us_listen_socket | false>((resolve) => app.listen("127.0.0.1", 0, resolve))
  if (listenSocket === false) {
    warn("could not listen on 127.0.0.1 for the WebSocket cork anchor; upgrades after an await run uncorked")
    return () => undefined
  }
  port = uWS.us_socket_local_port(listenSocket)
  connect()
  const timer = new Promise<"late">((resolve) => setTimeout(() => resolve("late"), OPEN_TIMEOUT_MS).unref())
  if ((await Promise.race([open, timer])) === "late") warn("the WebSocket cork anchor did not open in time; upgrades after an await run uncorked until it does")
  return () => {
    stopped = true
    client?.destroy()
    uWS.us_listen_socket_close(listenSocket)
  }
}
