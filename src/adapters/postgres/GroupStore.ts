// Groups in Postgres (table arena_groups, sql/postgres/0006_groups.sql): parameterized statements
// only; the ownership check is part of each write statement. A database that cannot be reached
// rejects with GroupStoreUnavailable (the routes answer 503).
import type postgres from "postgres"
import type { Group, GroupInput, GroupStore, PutOutcome } from "../../ports/Groups.js"
import { GroupStoreUnavailable } from "../../ports/Groups.js"
import { requestStatement, storeStatement } from "./Db.js"

interface Row {
  id: string
  name: string
  owner: string
  members: Array<string>
  updated_at: Date
  created?: boolean
}

const toGroup = (r: Row): Group => ({ id: r.id, name: r.name, owner: r.owner, members: r.members, updated_at: r.updated_at.toISOString() })

export class PostgresGroupStore implements GroupStore {
  constructor(private readonly sql: postgres.Sql) {}

  async loadAll(): Promise<ReadonlyArray<Group>> {
    // At start only (before the gateway listens): no request waits on it, so no request deadline.
    const rows = await storeStatement("groups: load", GroupStoreUnavailable, () => this.sql<Array<Row>>`SELECT id, name, owner, members, updated_at FROM arena_groups ORDER BY id`)
    return rows.map(toGroup)
  }

  /** One group (the partitioned gateway reads it on each request: any gateway sees every write). */
  async get(id: string): Promise<Group | null> {
    const rows = await requestStatement("groups: get", GroupStoreUnavailable, () => this.sql<Array<Row>>`SELECT id, name, owner, members, updated_at FROM arena_groups WHERE id = ${id}`)
    return rows.length === 0 ? null : toGroup(rows[0]!)
  }

  async put(id: string, sub: string, admin: boolean, input: GroupInput): Promise<PutOutcome> {
    const sql = this.sql
    // Insert, or replace when the caller owns it (or is admin): the owner never changes.
    const rows = await requestStatement("groups: put", GroupStoreUnavailable, () => sql<Array<Row>>`
      INSERT INTO arena_groups (id, name, owner, members) VALUES (${id}, ${input.name}, ${sub}, ${sql.array([...input.members])})
      ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, members = EXCLUDED.members, updated_at = now()
        WHERE arena_groups.owner = ${sub} OR ${admin}
      RETURNING id, name, owner, members, updated_at, (xmax = 0) AS created`)
    if (rows.length > 0) return { ok: true, group: toGroup(rows[0]!), created: rows[0]!.created === true }
    const other = await requestStatement("groups: put", GroupStoreUnavailable, () => sql<Array<{ owner: string }>>`SELECT owner FROM arena_groups WHERE id = ${id}`)
    return { ok: false, owner: other[0]?.owner ?? "" }
  }

  async delete(id: string, sub: string, admin: boolean): Promise<"deleted" | "forbidden" | "missing"> {
    const r = await requestStatement("groups: delete", GroupStoreUnavailable, () => this.sql`DELETE FROM arena_groups WHERE id = ${id} AND (owner = ${sub} OR ${admin})`)
    if (r.count > 0) return "deleted"
    const rows = await requestStatement("groups: delete", GroupStoreUnavailable, () => this.sql`SELECT 1 FROM arena_groups WHERE id = ${id}`)
    return rows.length > 0 ? "forbidden" : "missing"
  }

  /** Erasure (§11), partitioned mode: the user's own groups go, and they leave everyone else's member lists. */
  async forgetUser(userId: string): Promise<void> {
    await storeStatement("groups: forget a user", GroupStoreUnavailable, () => this.sql.begin(async (tx) => {
      await tx`DELETE FROM arena_groups WHERE owner = ${userId}`
      await tx`UPDATE arena_groups SET members = array_remove(members, ${userId}), updated_at = now() WHERE ${userId} = ANY(members)`
    }))
  }
}
