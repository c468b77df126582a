// Live leaderboard watchers for reliability tests: a WebSocket subscription whose messages are
// folded with the reference applyDelta (test/gateway/wsProtocol.ts throws on any gap or epoch
// change without a snapshot), and a wait until the folded top-N equals what is expected.
import WebSocket from "ws"
import type { LeaderboardMessage } from "../../../src/gateway/protocol/Messages.js"
import { WsReader } from "../../gateway/client.js"
import { fold } from "../../gateway/wsProtocol.js"
import type { ClientState } from "../../gateway/wsProtocol.js"

export interface Subscription { readonly board: string; readonly window: string; readonly period?: string; readonly limit: number }

export interface Entry { readonly rank: number; readonly user_id: string; readonly username: string; readonly xp: number; readonly level: number }

export const subPath = (s: Subscription): string =>
  `/ws/leaderboard/${encodeURIComponent(s.board)}?window=${s.window}&limit=${s.limit}${s.period === undefined ? "" : `&period=${s.period}`}`

export class BoardWatch {
  private constructor(readonly sub: Subscription, readonly reader: WsReader<LeaderboardMessage>) {}

  static open(baseUrl: string, sub: Subscription, from?: string): Promise<BoardWatch> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(baseUrl.replace(/^http/, "ws") + subPath(sub), { ...(from === undefined ? {} : { localAddress: from }) })
      const reader = new WsReader<LeaderboardMessage>(ws)
      ws.once("open", () => resolve(new BoardWatch(sub, reader)))
      ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)))
      ws.once("error", reject)
    })
  }

  /** Folds everything received so far (throws on a broken chain). */
  state(): ClientState {
    return fold(this.reader.messages, this.sub.limit)
  }

  /**
   * Waits (bounded) until the fold equals `expected`, then returns the state; on timeout returns
   * the last state so the caller's equality assertion shows the difference.
   */
  async settle(expected: ReadonlyArray<Entry>, timeoutMs = 30_000): Promise<ClientState> {
    const want = JSON.stringify(expected)
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const s = this.reader.messages.length > 0 ? this.state() : null
      if (s !== null && JSON.stringify(s.entries) === want) return s
      if (Date.now() > deadline || this.reader.closed !== null) {
        if (s === null) throw new Error(`${subPath(this.sub)}: no messages (closed: ${JSON.stringify(this.reader.closed)})`)
        return s
      }
      const n = this.reader.messages.length
      await this.reader.until((m) => m.length > n, 250, "more").catch(() => undefined)
    }
  }

  close(): void {
    this.reader.close()
  }
}
