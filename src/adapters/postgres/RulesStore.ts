// The RulesStore port on Postgres (sql/postgres/0004_rules_versions.sql): versions once each (a
// version string names one content: its primary key), history rows in record order. Recording is
// decided and written in one transaction under an advisory lock, so two starters never both add.
import { Effect } from "effect"
import type { Sql } from "./Db.js"
import type { RecordDecision, RecordOutcome, RulesStore, StoredRulesVersion } from "../../ports/RulesStore.js"
import { PgError, classifyPg } from "./PgError.js"

const LOCK_KEY = 0x52756c6573 // "Rules"

interface Row { version: string; content_hash: string; body: string; effective_from_seq: string; recorded_at: Date }

const readAll = async (sql: Sql): Promise<Array<StoredRulesVersion>> => {
  const rows = await sql<Row[]>`
    SELECT h.version, v.content_hash, v.body, h.effective_from_seq, h.recorded_at
    FROM arena_rules_history h JOIN arena_rules_version v USING (version) ORDER BY h.id`
  return rows.map((r) => ({
    version: r.version, contentHash: r.content_hash, body: r.body, effectiveFromSeq: Number(r.effective_from_seq), recordedAt: r.recorded_at.toISOString()
  }))
}

export const makeRulesStore = (sql: Sql): RulesStore => ({
  history: Effect.tryPromise({ try: () => readAll(sql), catch: (e) => classifyPg(e, "reading the rules history") }),
  record: (decide: (recorded: ReadonlyArray<StoredRulesVersion>) => RecordDecision) =>
    Effect.tryPromise({
      try: () =>
        sql.begin(async (tx): Promise<RecordOutcome> => {
          await tx`SELECT pg_advisory_xact_lock(${LOCK_KEY})`
          const before = await readAll(tx as unknown as Sql)
          const d = decide(before)
          if (d === null) return { versions: before, recorded: null, refused: null }
          if ("refuse" in d) return { versions: before, recorded: null, refused: d.refuse }
          const known = await tx<{ content_hash: string }[]>`SELECT content_hash FROM arena_rules_version WHERE version = ${d.version}`
          if (known[0] === undefined) {
            await tx`INSERT INTO arena_rules_version (version, content_hash, body) VALUES (${d.version}, ${d.contentHash}, ${d.body})`
          } else if (known[0].content_hash !== d.contentHash) {
            // decide() checks this first; the key keeps it true whatever a caller decides.
            throw new PgError({ reason: "conflict", retryable: false, message: `rules version ${JSON.stringify(d.version)} is already recorded with other content` })
          }
          await tx`INSERT INTO arena_rules_history (version, effective_from_seq, head_seq) VALUES (${d.version}, ${d.effectiveFromSeq}, ${d.headSeq})`
          return { versions: await readAll(tx as unknown as Sql), recorded: d, refused: null }
        }),
      catch: (e) => (e instanceof PgError ? e : classifyPg(e, "recording the rules version"))
    })
})
