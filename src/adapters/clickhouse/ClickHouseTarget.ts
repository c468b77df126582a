// Where ClickHouse lives, decoded from CLICKHOUSE_URL (ARCHITECTURE §8): `chdb:///abs/path` is the
// embedded engine (one process per data directory), `http(s)://…` a server with credentials.
import * as path from "node:path"
import { ClickHouseError } from "./ClickHouseError.js"

export type ClickHouseTarget =
  | { readonly kind: "embedded"; readonly path: string; readonly database: string }
  | {
    readonly kind: "http"
    readonly url: string
    readonly username: string
    readonly password: string
    readonly database: string
  }

export interface TargetConfig {
  readonly clickhouseUrl?: string | undefined
  readonly clickhouseDatabase?: string | undefined
  readonly clickhouseUser?: string | undefined
  readonly clickhousePassword?: string | undefined
  readonly dataDir?: string | undefined
}

const DB_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/

/** Decode the target; throws ClickHouseError(config) with the offending value named. */
export const parseClickHouseTarget = (c: TargetConfig): ClickHouseTarget => {
  const database = c.clickhouseDatabase ?? "arena"
  if (!DB_RE.test(database)) {
    throw new ClickHouseError({ reason: "config", retryable: false, message: `CLICKHOUSE_DATABASE ${JSON.stringify(database)} must match ${DB_RE.source}` })
  }
  const raw = c.clickhouseUrl
  if (raw === undefined || raw === "") {
    return { kind: "embedded", path: path.resolve(c.dataDir ?? "./data", "clickhouse"), database }
  }
  if (raw.startsWith("chdb://")) {
    const p = raw.slice("chdb://".length)
    if (!p.startsWith("/") || p.length < 2) {
      throw new ClickHouseError({ reason: "config", retryable: false, message: `CLICKHOUSE_URL ${JSON.stringify(raw)}: an embedded path must be absolute, e.g. chdb:///var/lib/arena/clickhouse` })
    }
    return { kind: "embedded", path: path.normalize(decodeURIComponent(p)), database }
  }
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    throw new ClickHouseError({ reason: "config", retryable: false, message: `CLICKHOUSE_URL ${JSON.stringify(raw)} is not a URL` })
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new ClickHouseError({ reason: "config", retryable: false, message: `CLICKHOUSE_URL scheme ${u.protocol} is not supported; use chdb:///abs/path, http:// or https://` })
  }
  // Credentials: explicit variables win over ones embedded in the URL; never keep them in the URL.
  const username = c.clickhouseUser ?? (decodeURIComponent(u.username) || "default")
  const password = c.clickhousePassword ?? decodeURIComponent(u.password)
  u.username = ""
  u.password = ""
  return { kind: "http", url: u.toString().replace(/\/$/, ""), username, password, database }
}

/** For logs: never prints a password. */
export const describeTarget = (t: ClickHouseTarget): string =>
  t.kind === "embedded" ? `embedded chDB at ${t.path} (database ${t.database})` : `ClickHouse server ${t.url} as ${t.username} (database ${t.database})`
