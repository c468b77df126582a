// The RulesStore port on Postgres (sql/postgres/0004_rules_versions.sql): versions once each (a
// version string names one content: its primary key), history rows in record order. Recording is
// decided and written in one transaction under an advisory lock, so two starters never both add.
import { Effect } from "effect"
import type { Sql, SqlOrTx } from "./Db.js"
import type { RulesSource } from "../../domain/RulesHistory.js"
import type { KnownRulesVersion, RecordDecision, RecordOutcome, RulesStore, StoredRulesVersion } from "../../ports/RulesStore.js"
import { PgError, classifyPg } from "./PgError.js"

const LOCK_KEY = 0x52756c6573 // "Rules"

interface Row { version: string; content_hash: string; body: string; effective_from_seq: string; recorded_at: Date; source: RulesSource }

/** The current projection (0001..0008 databases: the row 0009 inserts). */
export const currentProjection = async (sql: Sql): Promise<number> =>
  (await sql<{ current: number }[]>`SELECT current FROM arena_projection WHERE id = 1`)[0]?.current ?? 0

/** The rules history of one projection, in record order. */
export const readProjectionHistory = async (sql: Sql, projection: number): Promise<Array<StoredRulesVersion>> => {
  const rows = await sql<Row[]>`
    SELECT h.version, v.content_hash, v.body, h.effective_from_seq, h.recorded_at, h.source
    FROM arena_rules_history h JOIN arena_rules_version v USING (version) WHERE h.projection = ${projection} ORDER BY h.id`
  return rows.map((r) => ({
    version: r.version, contentHash: r.content_hash, body: r.body, effectiveFromSeq: Number(r.effective_from_seq), recordedAt: r.recorded_at.toISOString(), source: r.source
  }))
}

export const readKnownVersions = async (sql: Sql): Promise<Array<KnownRulesVersion>> =>
  (await sql<{ version: string; content_hash: string }[]>`SELECT version, content_hash FROM arena_rules_version ORDER BY recorded_at, version`)
    .map((r) => ({ version: r.version, contentHash: r.content_hash }))

/**
 * Records `v.version` with its content unless it is recorded already (inside the caller's
 * transaction, under RULES_LOCK_KEY). A version string names one content forever: returns null
 * when the version now holds `v.contentHash`, else the other content's hash it holds (nothing written).
 */
export const recordRulesVersion = async (tx: SqlOrTx, v: { readonly version: string; readonly contentHash: string; readonly body: string }): Promise<string | null> => {
  const known = await tx<{ content_hash: string }[]>`SELECT content_hash FROM arena_rules_version WHERE version = ${v.version}`
  if (known[0] === undefined) {
    await tx`INSERT INTO arena_rules_version (version, content_hash, body) VALUES (${v.version}, ${v.contentHash}, ${v.body})`
    return null
  }
  return known[0].content_hash === v.contentHash ? null : known[0].content_hash
}

const readAll = async (sql: Sql): Promise<Array<StoredRulesVersion>> => readProjectionHistory(sql, await currentProjection(sql))

export { LOCK_KEY as RULES_LOCK_KEY }

export const makeRulesStore = (sql: Sql): RulesStore => ({
  history: Effect.tryPromise({ try: () => readAll(sql), catch: (e) => classifyPg(e, "reading the rules history") }),
  known: Effect.tryPromise({ try: () => readKnownVersions(sql), catch: (e) => classifyPg(e, "reading the recorded rules versions") }),
  record: (decide: (recorded: ReadonlyArray<StoredRulesVersion>, known: ReadonlyArray<KnownRulesVersion>) => RecordDecision) =>
    Effect.tryPromise({
      try: () =>
        sql.begin(async (tx): Promise<RecordOutcome> => {
          await tx`SELECT pg_advisory_xact_lock(${LOCK_KEY})`
          // Shared lock on the projection row: a switch (ProjectionStore) waits for this record, and this waits for a switch.
          const projection = (await tx<{ current: number }[]>`SELECT current FROM arena_projection WHERE id = 1 FOR SHARE`)[0]?.current ?? 0
          const before = await readProjectionHistory(tx as unknown as Sql, projection)
          const d = decide(before, await readKnownVersions(tx as unknown as Sql))
          if (d === null) return { versions: before, recorded: null, refused: null, projection }
          if ("refuse" in d) return { versions: before, recorded: null, refused: d.refuse, projection }
          if (await recordRulesVersion(tx, d) !== null) {
            // decide() checks this first; the key keeps it true whatever a caller decides.
            throw new PgError({ reason: "conflict", retryable: false, message: `rules version ${JSON.stringify(d.version)} is already recorded with other content` })
          }
          await tx`INSERT INTO arena_rules_history (version, effective_from_seq, head_seq, projection, source)
            VALUES (${d.version}, ${d.effectiveFromSeq}, ${d.headSeq}, ${projection}, ${d.source ?? "start"})`
          return { versions: await readProjectionHistory(tx as unknown as Sql, projection), recorded: d, refused: null, projection }
        }),
      catch: (e) => (e instanceof PgError ? e : classifyPg(e, "recording the rules version"))
    })
})
