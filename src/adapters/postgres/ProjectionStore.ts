// The ProjectionStore port on Postgres (sql/postgres/0009_projections.sql): a re-projection's state
// machine and its shadow snapshot. Every step is one transaction; the switch takes the projection
// row FOR UPDATE, which snapshot writes (SnapshotStore's fence) and rules records share, so no
// snapshot of the old projection can land after it and exactly one projection is ever in force.
import { Effect } from "effect"
import type { Sql } from "./Db.js"
import { shadowArchives, writeArchives } from "./PeriodArchives.js"
import { PgError, classifyPg } from "./PgError.js"
import type { CopyColumn } from "./CopyBinary.js"
import { copyIn } from "./CopyBinary.js"
import { RULES_LOCK_KEY, readProjectionHistory, recordRulesVersion } from "./RulesStore.js"
import type { BeginOutcome, ProjectionStore, ReprojectionRow } from "../../ports/Projections.js"
import type { SnapshotStore, SnapshotWrite } from "../../ports/Snapshots.js"

/** arena_shadow_chunk (projection, users, data), as copyIn writes it. */
const SHADOW_CHUNK_COLUMNS: ReadonlyArray<CopyColumn> = ["int4", "int4", "bytea"]

interface Row {
  projection: number; version: string; state: ReprojectionRow["state"]; head_seq: string; built_seq: string | null; reason: string | null
  requested_at: Date; finished_at: Date | null
}

const view = (r: Row): ReprojectionRow => ({
  projection: r.projection, version: r.version, state: r.state, head_seq: Number(r.head_seq), built_seq: r.built_seq === null ? null : Number(r.built_seq),
  reason: r.reason, requested_at: r.requested_at.toISOString(), finished_at: r.finished_at?.toISOString() ?? null
})

const q = <A>(what: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (e) => (e instanceof PgError ? e : classifyPg(e, what)) })

const refuse = (message: string) => new PgError({ reason: "conflict", retryable: false, message })

const dropShadow = async (tx: Sql, projection: number): Promise<void> => {
  await tx`DELETE FROM arena_shadow_chunk WHERE projection = ${projection}`
  await tx`DELETE FROM arena_shadow_archive WHERE projection = ${projection}`
  await tx`DELETE FROM arena_shadow_closed WHERE projection = ${projection}`
  await tx`DELETE FROM arena_shadow_checkpoint WHERE projection = ${projection}`
}

/** The shadow snapshot of a pending projection: same writes as SnapshotStore, into the shadow tables. */
const shadowStore = (sql: Sql, projection: number): SnapshotStore => ({
  readCheckpoint: Effect.succeed(null),
  loadChunks: () => Effect.succeed({ chunks: 0, bytes: 0 }),
  loadLegacyUsers: () => Effect.succeed(0),
  readArchive: () => Effect.succeed(null),
  readArchiveOf: () => Effect.succeed(null), // the shadow build serves no reads
  readArchiveByKey: () => Effect.succeed(null),
  write: (w: SnapshotWrite) => q(`writing the shadow snapshot of projection ${projection}`, () =>
    sql.begin(async (tx) => {
      const s = await tx<{ state: string }[]>`SELECT state FROM arena_reprojection WHERE projection = ${projection} FOR UPDATE`
      if (s[0]?.state !== "pending") throw refuse(`re-projection ${projection} is ${s[0]?.state ?? "unknown"}, not pending: its shadow snapshot is not written`)
      const c = w.checkpoint
      if (w.base) {
        await tx`DELETE FROM arena_shadow_chunk WHERE projection = ${projection}`
      }
      await copyIn(tx`COPY arena_shadow_chunk (projection, users, data) FROM STDIN (FORMAT binary)`, SHADOW_CHUNK_COLUMNS,
        w.chunks.map((chunk) => [projection, w.users, chunk]))
      await writeArchives(tx, shadowArchives(projection), w.archives)
      await tx`
        INSERT INTO arena_shadow_checkpoint (projection, stream, stream_created, seq, stream_time_ms, rules_version, users, base_bytes)
        VALUES (${projection}, ${c.stream}, ${c.streamCreated}, ${c.seq}, ${c.streamTimeMs}, ${c.rulesVersion}, ${c.users}, ${c.baseBytes + c.deltaBytes})
        ON CONFLICT (projection) DO UPDATE SET stream = EXCLUDED.stream, stream_created = EXCLUDED.stream_created, seq = EXCLUDED.seq,
          stream_time_ms = EXCLUDED.stream_time_ms, rules_version = EXCLUDED.rules_version, users = EXCLUDED.users, base_bytes = EXCLUDED.base_bytes`
    }).then(() => undefined))
})

const ROW = "projection, version, state, head_seq, built_seq, reason, requested_at, finished_at"

export const makeProjectionStore = (sql: Sql): ProjectionStore => {
  const get = (projection: number) => q("reading a re-projection", async () =>
    (await sql<Row[]>`SELECT ${sql.unsafe(ROW)} FROM arena_reprojection WHERE projection = ${projection}`).map(view)[0] ?? null)
  return {
    current: q("reading the current projection", async () => (await sql<{ current: number }[]>`SELECT current FROM arena_projection WHERE id = 1`)[0]?.current ?? 0),
    open: q("reading the open re-projection", async () =>
      (await sql<Row[]>`SELECT ${sql.unsafe(ROW)} FROM arena_reprojection WHERE state IN ('pending', 'built')`).map(view)[0] ?? null),
    last: q("reading the last re-projection", async () =>
      (await sql<Row[]>`SELECT ${sql.unsafe(ROW)} FROM arena_reprojection ORDER BY projection DESC LIMIT 1`).map(view)[0] ?? null),
    get,
    history: (projection) => q("reading a projection's rules history", () => readProjectionHistory(sql, projection)),
    shadow: (projection) => shadowStore(sql, projection),

    begin: (v) => q("recording a re-projection", () =>
      sql.begin(async (tx): Promise<BeginOutcome> => {
        await tx`SELECT pg_advisory_xact_lock(${RULES_LOCK_KEY})`
        const open = await tx<Row[]>`SELECT ${tx.unsafe(ROW)} FROM arena_reprojection WHERE state IN ('pending', 'built')`
        if (open[0] !== undefined) return { ok: false, conflict: `a retroactive apply of rules ${open[0].version} (projection ${open[0].projection}) is ${open[0].state}` }
        // An erasure erasing its stream messages (ErasureStore.enterStream, same lock): a build
        // reading the stream meanwhile could see the user's messages and miss the erasure message.
        const erasing = await tx`SELECT id FROM arena_erasure WHERE step = 'stream' LIMIT 1`
        if (erasing.length > 0) return { ok: false, conflict: "an erasure is erasing its stream messages (ARCHITECTURE §11); try the retroactive apply again in a few seconds" }
        const other = await recordRulesVersion(tx, v)
        if (other !== null) {
          return {
            ok: false,
            conflict: `rules version ${JSON.stringify(v.version)} is already recorded with other content (sha256 ${other.slice(0, 12)}…); ` +
              `this rules file has sha256 ${v.contentHash.slice(0, 12)}…. A version string names one content forever: give the changed rules a new version.`
          }
        }
        const current = (await tx<{ current: number }[]>`SELECT current FROM arena_projection WHERE id = 1`)[0]?.current ?? 0
        const highest = (await tx<{ p: number | null }[]>`SELECT max(projection) AS p FROM arena_reprojection`)[0]?.p ?? 0
        const projection = Math.max(current, highest) + 1
        const rows = await tx<Row[]>`
          INSERT INTO arena_reprojection (projection, version, state, head_seq) VALUES (${projection}, ${v.version}, 'pending', ${v.headSeq})
          RETURNING ${tx.unsafe(ROW)}`
        await tx`INSERT INTO arena_rules_history (version, effective_from_seq, head_seq, projection, source) VALUES (${v.version}, 1, ${v.headSeq}, ${projection}, 'retroactive')`
        return { ok: true, row: view(rows[0]!) }
      })),

    markBuilt: (projection) => q("marking a re-projection built", () =>
      sql.begin(async (tx) => {
        const cp = await tx<{ seq: string }[]>`SELECT seq FROM arena_shadow_checkpoint WHERE projection = ${projection}`
        if (cp[0] === undefined) throw refuse(`re-projection ${projection} has no shadow snapshot`)
        const rows = await tx<Row[]>`
          UPDATE arena_reprojection SET state = 'built', built_seq = ${cp[0].seq}, built_at = now()
          WHERE projection = ${projection} AND state = 'pending' RETURNING ${tx.unsafe(ROW)}`
        if (rows[0] === undefined) throw refuse(`re-projection ${projection} is not pending`)
        return view(rows[0])
      })),

    switchTo: (projection) => q(`switching to projection ${projection}`, () =>
      sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${RULES_LOCK_KEY})`
        // Taken FOR UPDATE: a snapshot write (which shares it) waits, then finds its projection gone.
        await tx`SELECT current FROM arena_projection WHERE id = 1 FOR UPDATE`
        const r = await tx<{ state: string }[]>`SELECT state FROM arena_reprojection WHERE projection = ${projection} FOR UPDATE`
        if (r[0]?.state !== "built") return false
        const cp = (await tx<{ stream: string; stream_created: string; seq: string; stream_time_ms: string; rules_version: string; users: string; base_bytes: string }[]>`
          SELECT stream, stream_created, seq, stream_time_ms, rules_version, users, base_bytes FROM arena_shadow_checkpoint WHERE projection = ${projection}`)[0]
        if (cp === undefined) return false
        await tx`DELETE FROM arena_snapshot_chunk`
        await tx`DELETE FROM arena_user_state`
        await tx`INSERT INTO arena_snapshot_chunk (cut_seq, base, users, data) SELECT ${cp.seq}, true, users, data FROM arena_shadow_chunk WHERE projection = ${projection} ORDER BY id`
        await tx`DELETE FROM arena_period_archive`
        await tx`DELETE FROM arena_period_closed`
        // Users of erasures under way (§11) leave the archives here (ranks close up, as a scrub
        // does): the shadow build may have archived them before it saw their erasure, or never saw it.
        await tx`
          INSERT INTO arena_period_archive (board, win, period, rank, user_id, username, xp, reached_seq, level)
          SELECT board, win, period, (row_number() OVER (PARTITION BY board, win, period ORDER BY rank))::int, user_id, username, xp, reached_seq, level
          FROM arena_shadow_archive WHERE projection = ${projection}
            AND user_id NOT IN (SELECT user_id FROM arena_erasure WHERE step <> 'done' AND user_id IS NOT NULL)`
        await tx`
          INSERT INTO arena_period_closed (board, win, period, entries, closed_at_seq)
          SELECT c.board, c.win, c.period, c.entries - (
            SELECT count(*) FROM arena_shadow_archive s WHERE s.projection = c.projection AND s.board = c.board AND s.win = c.win AND s.period = c.period
              AND s.user_id IN (SELECT user_id FROM arena_erasure WHERE step <> 'done' AND user_id IS NOT NULL))::int, c.closed_at_seq
          FROM arena_shadow_closed c WHERE c.projection = ${projection}`
        await tx`
          INSERT INTO arena_checkpoint (id, stream, stream_created, seq, stream_time_ms, rules_version, users, base_bytes, delta_bytes, projection)
          VALUES (1, ${cp.stream}, ${cp.stream_created}, ${cp.seq}, ${cp.stream_time_ms}, ${cp.rules_version}, ${cp.users}, ${cp.base_bytes}, 0, ${projection})
          ON CONFLICT (id) DO UPDATE SET stream = EXCLUDED.stream, stream_created = EXCLUDED.stream_created, seq = EXCLUDED.seq,
            stream_time_ms = EXCLUDED.stream_time_ms, rules_version = EXCLUDED.rules_version, users = EXCLUDED.users,
            base_bytes = EXCLUDED.base_bytes, delta_bytes = 0, projection = EXCLUDED.projection, taken_at = now()`
        await tx`UPDATE arena_projection SET current = ${projection}, switched_at = now() WHERE id = 1`
        await tx`UPDATE arena_reprojection SET state = 'switched', finished_at = now() WHERE projection = ${projection}`
        await dropShadow(tx as unknown as Sql, projection)
        return true
      })),

    discard: (projection, reason) => q(`discarding re-projection ${projection}`, () =>
      sql.begin(async (tx) => {
        await tx`UPDATE arena_reprojection SET state = 'discarded', reason = ${reason}, finished_at = now() WHERE projection = ${projection} AND state IN ('pending', 'built')`
        await dropShadow(tx as unknown as Sql, projection)
      }).then(() => undefined))
  }
}
