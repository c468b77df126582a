// /ws/users notifications on the main thread: each notification is serialized once and handed to
// the socket hosts that have a listener for that user (who publish it to the user's uWS topic).
import type { NotificationPort, UserNotification } from "../../ports/LiveFeed.js"
import type { HostSide, HubSide } from "./HostLink.js"
import { userTopic } from "./LbConn.js"
import { sentTotal } from "./WsMetrics.js"

export class UserFeed {
  /** user id → listening sockets per host. */
  private readonly listeners = new Map<string, Map<HostSide, number>>()

  constructor(private readonly notifications: NotificationPort) {}

  /** Starts forwarding notifications; returns the stop. */
  start(): () => void {
    return this.notifications.onUserNotification((n: UserNotification) => {
      const hosts = this.listeners.get(n.user_id)
      if (hosts === undefined) return
      const topic = userTopic(n.user_id), json = JSON.stringify(n)
      let total = 0
      for (const [host, count] of hosts) {
        host.notify(topic, json)
        total += count
      }
      sentTotal.inc({ type: "notification" }, total)
    })
  }

  /** What `host` calls when its /ws/users sockets open and close; `drop` forgets all of them. */
  forHost(host: HostSide): { hub: Pick<HubSide, "userOpen" | "userClose">; drop: () => void } {
    const conns = new Map<number, { userId: string; release: () => void }>()
    const close = (conn: number): void => {
      const c = conns.get(conn)
      if (c === undefined) return
      conns.delete(conn)
      c.release()
      const hosts = this.listeners.get(c.userId)
      const n = (hosts?.get(host) ?? 1) - 1
      if (n > 0) hosts!.set(host, n)
      else hosts?.delete(host)
      if (hosts !== undefined && hosts.size === 0) this.listeners.delete(c.userId)
    }
    return {
      hub: {
        userOpen: (conn, userId) => {
          conns.set(conn, { userId, release: this.notifications.watchUser(userId) })
          let hosts = this.listeners.get(userId)
          if (hosts === undefined) this.listeners.set(userId, (hosts = new Map()))
          hosts.set(host, (hosts.get(host) ?? 0) + 1)
        },
        userClose: close
      },
      drop: () => { for (const conn of [...conns.keys()]) close(conn) }
    }
  }
}
