// Minimal WebSocket client on raw `net` sockets for the fan-out bench: handshake, a frame parser
// that can count frames without copying (load clients) or hand out whole text payloads (probes),
// and pong replies to the server's automatic pings (or uWS closes the socket after idleTimeout).
import net from "node:net"

const KEY = "dGhlIHNhbXBsZSBub25jZQ=="
// Client frames must be masked; an all-zero mask leaves the payload as is.
const pongFrame = (payload) => Buffer.concat([Buffer.from([0x8a, 0x80 | payload.length, 0, 0, 0, 0]), payload])

/** Source address for socket `i`: `perIp` sockets per 127.x.y.z address (the gateway limits sockets per IP). */
export const sourceIp = (base, i, perIp) => {
  const k = Math.floor(i / perIp)
  return `127.${base}.${(k >> 8) & 255}.${(k & 255) + 1}`
}

/**
 * Opens one WebSocket. `onText(payload: Buffer, frameBytes)` gets each text frame when `decode` is
 * true; otherwise only counters move (`frames`, `bytes`, `snapshots`). Resolves once upgraded.
 */
// One receive buffer for every socket of the process: `onread` hands each read to a synchronous
// callback (no stream, no allocation per read), and pause() really stops reading (readStop), so a
// paused socket costs nothing until resumed — the kernel holds its frames meanwhile.
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024)

/**
 * Opens one WebSocket. `onText(payload: Buffer, frameBytes)` gets each text frame when `decode` is
 * true; otherwise only counters move (`frames`, `bytes`, `snapshots`). Resolves once upgraded.
 */
export const openWs = ({ port, path, localAddress, decode = false, onText = () => {}, onClose = () => {} }) =>
  new Promise((resolve, reject) => {
    let onData = null
    const s = net.connect({ port, host: "127.0.0.1", localAddress, onread: { buffer: READ_BUFFER, callback: (n, buf) => { onData(buf.subarray(0, n)) } } })
    const st = { frames: 0, bytes: 0, snapshots: 0, closed: false, why: null, socket: s }
    let head = null // partial header bytes carried over between reads
    let skip = 0 // payload bytes of a counted frame still to skip
    let payload = null, need = 0, op = 0 // a frame being assembled (decode mode, control frames)
    let upgraded = false, pre = Buffer.alloc(0)
    s.setNoDelay(true)
    s.on("error", (e) => { st.why ??= `error ${e.code ?? e.message}`; if (!upgraded) reject(e) })
    s.on("end", () => { st.why ??= "server FIN" })
    s.on("close", () => { st.closed = true; st.closedAt = Date.now(); onClose(st) })
    s.on("connect", () => s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`))
    // `buf` is the shared read buffer: copy anything kept past this call.
    const frames = (buf) => {
      let i = 0
      if (skip > 0) { const n = Math.min(skip, buf.length); skip -= n; i = n }
      if (payload !== null) {
        const n = Math.min(need, buf.length)
        buf.copy(payload, payload.length - need, 0, n)
        need -= n; i = n
        if (need > 0) return
        finish(payload)
      }
      while (i < buf.length) {
        if (head !== null) { buf = Buffer.concat([head, buf.subarray(i)]); i = 0; head = null }
        if (buf.length - i < 2) { head = Buffer.from(buf.subarray(i)); return }
        const b0 = buf[i], b1 = buf[i + 1] & 0x7f
        let len = b1, off = 2
        if (b1 === 126) { if (buf.length - i < 4) { head = Buffer.from(buf.subarray(i)); return } len = buf.readUInt16BE(i + 2); off = 4 }
        else if (b1 === 127) { if (buf.length - i < 10) { head = Buffer.from(buf.subarray(i)); return } len = Number(buf.readBigUInt64BE(i + 2)); off = 10 }
        op = b0 & 0x0f
        const start = i + off, avail = buf.length - start
        if (op === 1) {
          st.frames++; st.bytes += off + len
          // {"type":"snapshot"… vs {"type":"delta"…: byte 9 of the payload, when it is here.
          if (avail > 9 && buf[start + 9] === 0x73) st.snapshots++
        }
        if (decode || op !== 1) {
          if (avail >= len) { finishOp(op, buf.subarray(start, start + len), off + len); i = start + len; continue }
          payload = Buffer.allocUnsafe(len); buf.copy(payload, 0, start); need = len - avail; frameBytes = off + len
          return
        }
        if (avail >= len) i = start + len
        else { skip = len - avail; return }
      }
    }
    let frameBytes = 0
    const finish = (p) => { payload = null; finishOp(op, p, frameBytes) }
    const finishOp = (o, p, n) => {
      if (o === 1) { if (decode) onText(p, n) }
      else if (o === 9) s.write(pongFrame(Buffer.from(p)))
      else if (o === 8) { st.why ??= `close frame ${p.length >= 2 ? p.readUInt16BE(0) : ""} ${p.subarray(2).toString()}`; s.end() }
    }
    onData = (d) => {
      if (upgraded) return frames(d)
      pre = Buffer.concat([pre, d])
      const e = pre.indexOf("\r\n\r\n")
      if (e < 0) return
      const status = pre.subarray(0, pre.indexOf("\r\n")).toString()
      if (!status.includes(" 101 ")) { s.destroy(); reject(new Error(`${path}: ${status} ${pre.subarray(e + 4).toString().slice(0, 200)}`)); return }
      upgraded = true
      const rest = pre.subarray(e + 4)
      pre = null
      st.openedAt = Date.now()
      resolve(st)
      if (rest.length > 0) frames(rest)
    }
  })

/** Opens `specs` (each {path, localAddress}) with at most `concurrency` handshakes in flight. */
export const openMany = async (specs, opts, concurrency = 200) => {
  const out = new Array(specs.length)
  let next = 0
  const worker = async () => {
    while (next < specs.length) {
      const k = next++
      for (let attempt = 0; ; attempt++) {
        try { out[k] = await openWs({ ...opts(k), ...specs[k] }); break } catch (e) {
          if (attempt >= 5) throw e
          await new Promise((r) => setTimeout(r, 200 * (attempt + 1)))
        }
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return out
}
