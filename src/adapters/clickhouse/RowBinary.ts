// Records → ClickHouse RowBinary, written straight into the sink's row log (ports/RowLog.ts:
// typed-array columns over shared byte slabs): no row array, no JSON text and no object per
// record on the pipeline's turn, and the engine reads the rows without a text parser (the embedded
// engine spent ~2× the CPU on JSONCompactEachRow). Column order and types are those of
// sql/clickhouse/0001_raw_records.sql, then 0004's metadata and 0005's projection (Rows.ts TABLES
// lists the same columns). A new column of a
// table is one line in its writer below, one in its bound, and its name in Rows.ts TABLES;
// readLedgerItem reads rows back only up to the columns it needs, so a column appended at the end
// of a row needs nothing there.
import type { CorrectionEntry, LedgerEntry, LedgerItem, BoardChange } from "../../domain/Model.js"
import { boardKeyOf, parseBoardKeyString } from "../../domain/BoardKeys.js"
import type { AnalyticsRecord } from "../../ports/Analytics.js"
import { seqOf } from "../../ports/Analytics.js"
import { KIND_AWARD, KIND_CODE, KIND_CORRECTION } from "../../ports/RowLog.js"
import type { RowLog } from "../../ports/RowLog.js"
import { monthOf } from "./Rows.js"

const TWO_32 = 4294967296

// The slab being written (module state, so the writers below are plain functions).
let slab: Uint8Array = new Uint8Array(0)
let view: DataView = new DataView(slab.buffer)
let pos = 0
const utf8 = new TextEncoder()

/** Bytes a string can take at most: a varint length (≤ 5 bytes) and 3 bytes per UTF-16 unit. */
const strBound = (s: string): number => 5 + 3 * s.length

const varint = (n: number): void => {
  while (n >= 0x80) {
    slab[pos++] = (n & 0x7f) | 0x80
    n >>>= 7
  }
  slab[pos++] = n
}

/** String: varint byte length, UTF-8 bytes. ASCII (every id, name and decimal here) is copied by hand. */
const str = (s: string): void => {
  const n = s.length
  if (n < 0x80) {
    const at = pos
    let p = at + 1
    let ascii = true
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) { ascii = false; break }
      slab[p++] = c
    }
    if (ascii) {
      slab[at] = n
      pos = p
      return
    }
  }
  const bytes = utf8.encode(s)
  varint(bytes.length)
  slab.set(bytes, pos)
  pos += bytes.length
}

const u8 = (n: number): void => { slab[pos++] = n }
const u32 = (n: number): void => { view.setUint32(pos, n, true); pos += 4 }
/** UInt64/Int64 from a JS integer (exact up to 2^53): low and high 32-bit words. */
const i64 = (n: number): void => {
  const hi = Math.floor(n / TWO_32)
  view.setUint32(pos, n - hi * TWO_32, true)
  view.setInt32(pos + 4, hi, true)
  pos += 8
}

const digits = (s: string, from: number, to: number): number => {
  let n = 0
  for (let i = from; i < to; i++) n = n * 10 + s.charCodeAt(i) - 48
  return n
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
const daysFromCivil = (y: number, m: number, d: number): number => {
  const yy = m <= 2 ? y - 1 : y
  const era = Math.floor(yy / 400)
  const yoe = yy - era * 400
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

/** Epoch ms of an ISO timestamp; the canonical "YYYY-MM-DDTHH:MM:SS.mmmZ" without Date.parse. */
export const isoMillis = (iso: string): number => {
  if (iso.length === 24 && iso.charCodeAt(10) === 84 /* T */ && iso.charCodeAt(23) === 90 /* Z */) {
    const days = daysFromCivil(digits(iso, 0, 4), digits(iso, 5, 7), digits(iso, 8, 10))
    return ((days * 24 + digits(iso, 11, 13)) * 60 + digits(iso, 14, 16)) * 60_000 + digits(iso, 17, 19) * 1000 + digits(iso, 20, 23)
  }
  const ms = Date.parse(iso)
  if (Number.isNaN(ms)) throw new Error(`not an ISO timestamp: ${JSON.stringify(iso)}`)
  return ms
}

/** DateTime64(3): Int64 milliseconds. */
const time = (iso: string): void => i64(isoMillis(iso))

// The stream time of the record being written, parsed once: every record of one event (the award,
// its level-up, its achievements) carries the same stream_time, and it also gives the partition.
let streamIso = ""
let streamMs = 0
let streamMonth = 0
const streamTime = (iso: string): void => {
  if (iso !== streamIso) {
    streamMs = isoMillis(iso)
    streamMonth = monthOf(iso)
    streamIso = iso
  }
}

/** The JSON column's text (read as a string: input_format_binary_read_json_as_string); `{}` when the event had none. */
const NO_METADATA = "{}"

const awardBound = (e: LedgerEntry, metadata: string | undefined): number => {
  let n = strBound(metadata ?? NO_METADATA) + 8 * 4 + 4 * 7 + 2 + 5 * 4 + 4 * e.bonuses.length
  n += strBound(e.event_id) + strBound(e.user_id) + strBound(e.agent_name) + strBound(e.action_type)
  n += strBound(e.streak_multiplier) + strBound(e.total_multiplier) + strBound(e.applied_multiplier) + strBound(e.rules_version)
  for (const m of e.multipliers) n += strBound(m.name) + strBound(m.factor)
  for (const b of e.bonuses) n += strBound(b.achievement)
  return n
}

const award = (e: LedgerEntry, metadata: string | undefined, projection: number): void => {
  const ms = e.multipliers
  const bs = e.bonuses
  i64(e.seq)
  str(e.event_id)
  str(e.user_id)
  str(e.agent_name)
  str(e.action_type)
  u32(e.base_points)
  varint(ms.length)
  for (const m of ms) str(m.name)
  varint(ms.length)
  for (const m of ms) str(m.factor)
  u32(e.streak_days)
  str(e.streak_multiplier)
  str(e.total_multiplier)
  str(e.applied_multiplier)
  u32(e.xp)
  varint(bs.length)
  for (const b of bs) str(b.achievement)
  varint(bs.length)
  for (const b of bs) u32(b.xp)
  u32(e.total_awarded)
  i64(e.total_xp_after)
  u8(e.level_before)
  u8(e.level_after)
  str(e.rules_version)
  time(e.event_time)
  i64(streamMs)
  str(metadata ?? NO_METADATA)
  u32(projection)
}

const correctionBound = (e: CorrectionEntry): number => {
  let n = 8 * 7 + 2 + 5 * 2 + 4
  n += strBound(e.correction_id) + strBound(e.correction) + strBound(e.user_id) + strBound(e.agent_name ?? "") + strBound(e.event_id ?? "")
  n += strBound(e.reason) + strBound(e.by ?? "") + strBound(e.rules_version)
  for (const b of e.boards) n += 8 + strBound(b.board) + strBound(b.window) + strBound(b.period) + 2
  return n
}

const correction = (e: CorrectionEntry, projection: number): void => {
  i64(e.seq)
  str(e.correction_id)
  str(e.correction)
  str(e.user_id)
  str(e.agent_name ?? "")
  str(e.event_id ?? "")
  i64(e.event_seq ?? 0)
  str(e.reason)
  str(e.by ?? "")
  i64(e.requested_xp)
  i64(e.xp)
  varint(e.boards.length)
  for (const b of e.boards) str(boardKeyOf(b.board, b.window, b.period))
  varint(e.boards.length)
  for (const b of e.boards) i64(b.xp)
  i64(e.total_xp_after)
  u8(e.level_before)
  u8(e.level_after)
  str(e.rules_version)
  i64(streamMs)
  u32(projection)
}

/** At least the bytes the record's row takes. */
const boundOf = (r: AnalyticsRecord): number => {
  switch (r.kind) {
    case "award": return awardBound(r.entry, r.metadata)
    case "correction": return correctionBound(r.entry)
    case "level_up": return 8 + strBound(r.user_id) + 2 + 8 + 4
    case "achievement": return 8 + strBound(r.user_id) + strBound(r.achievement) + 4 + 8 + 4
    case "rejection": return 8 + strBound(r.reason) + strBound(r.message) + 1 + strBound(r.event_id ?? "") + 8 + 4
  }
}

/**
 * Appends the record's row (its table's column order, Rows.ts TABLES) to `rows`, with its seq and
 * partition (the month of its stream time); returns the row's index. Every row ends with the
 * projection that scored it (ARCHITECTURE §10 "Re-projection"; 0005_projections.sql): an award
 * record's own, else `projection` (the one in force where it was made).
 */
export const writeRow = (r: AnalyticsRecord, rows: RowLog, projection = 0, streamPartition?: number): number => {
  streamTime(r.kind === "award" || r.kind === "correction" ? r.entry.stream_time : r.stream_time)
  const k = KIND_CODE[r.kind]
  const id = rows.room(k, boundOf(r) + 4)
  slab = rows.slabs[id]!
  view = rows.views[id]!
  pos = rows.pos[k]!
  const start = pos
  switch (r.kind) {
    case "award":
      award(r.entry, r.metadata, r.projection ?? projection)
      break
    case "correction":
      correction(r.entry, projection)
      break
    case "level_up":
      i64(r.seq)
      str(r.user_id)
      u8(r.from)
      u8(r.to)
      i64(streamMs)
      u32(projection)
      break
    case "achievement":
      i64(r.seq)
      str(r.user_id)
      str(r.achievement)
      u32(r.bonus)
      i64(streamMs)
      u32(projection)
      break
    case "rejection":
      i64(r.seq)
      str(r.reason)
      str(r.message)
      // Nullable(String): a null flag byte, then the value when not null.
      if (r.event_id === null) u8(1)
      else { u8(0); str(r.event_id) }
      i64(streamMs)
      u32(projection)
      break
  }
  // Partitioned mode (0006_stream_partition.sql): the stream partition the row belongs to, after
  // the projection (Rows.ts partitionedColumns); the single process writes no such column (-1).
  if (streamPartition !== undefined) u32(streamPartition)
  return rows.push(k, seqOf(r), streamMonth, id, start, pos)
}

// ---- reading a row back (the sink's not-yet-durable ledger entries live only as their rows) ----

const utf8d = new TextDecoder()
let rb: Uint8Array = new Uint8Array(0)
let rv: DataView = new DataView(rb.buffer)
let rp = 0

const rVarint = (): number => {
  let n = 0
  let shift = 0
  for (;;) {
    const b = rb[rp++]!
    n += (b & 0x7f) * 2 ** shift
    if (b < 0x80) return n
    shift += 7
  }
}
const rStr = (): string => {
  const n = rVarint()
  const at = rp
  rp += n
  let ascii = n < 64
  if (ascii) for (let i = at; i < rp; i++) if (rb[i]! >= 0x80) { ascii = false; break }
  if (ascii) {
    let s = ""
    for (let i = at; i < rp; i++) s += String.fromCharCode(rb[i]!)
    return s
  }
  return utf8d.decode(rb.subarray(at, rp))
}
const rU8 = (): number => rb[rp++]!
const rU32 = (): number => { const n = rv.getUint32(rp, true); rp += 4; return n }
const rI64 = (): number => { const n = rv.getUint32(rp, true) + rv.getInt32(rp + 4, true) * TWO_32; rp += 8; return n }
const rTime = (): string => new Date(rI64()).toISOString()

const readAward = (): LedgerEntry => {
  const seq = rI64()
  const event_id = rStr()
  const user_id = rStr()
  const agent_name = rStr()
  const action_type = rStr()
  const base_points = rU32()
  const names: string[] = []
  for (let i = rVarint(); i > 0; i--) names.push(rStr())
  const multipliers = names.map((name) => ({ name, factor: "" }))
  for (let i = 0, n = rVarint(); i < n; i++) multipliers[i]!.factor = rStr()
  const streak_days = rU32()
  const streak_multiplier = rStr()
  const total_multiplier = rStr()
  const applied_multiplier = rStr()
  const xp = rU32()
  const ids: string[] = []
  for (let i = rVarint(); i > 0; i--) ids.push(rStr())
  const bonuses = ids.map((achievement) => ({ achievement, xp: 0 }))
  for (let i = 0, n = rVarint(); i < n; i++) bonuses[i]!.xp = rU32()
  const total_awarded = rU32()
  const total_xp_after = rI64()
  const level_before = rU8()
  const level_after = rU8()
  const rules_version = rStr()
  const event_time = rTime()
  const stream_time = rTime()
  return {
    event_id, seq, user_id, agent_name, action_type, base_points, multipliers, streak_days, streak_multiplier, total_multiplier,
    applied_multiplier, xp, bonuses, total_awarded, total_xp_after, level_before, level_after, rules_version, event_time, stream_time
  }
}

const orNull = (s: string): string | null => (s === "" ? null : s)

const readCorrection = (): CorrectionEntry => {
  const seq = rI64()
  const correction_id = rStr()
  const correction = rStr() === "void" ? "void" : "adjust"
  const user_id = rStr()
  const agent_name = orNull(rStr())
  const event_id = orNull(rStr())
  const eventSeq = rI64()
  const reason = rStr()
  const by = orNull(rStr())
  const requested_xp = rI64()
  const xp = rI64()
  const keys: string[] = []
  for (let i = rVarint(); i > 0; i--) keys.push(rStr())
  const amounts: number[] = []
  for (let i = rVarint(); i > 0; i--) amounts.push(rI64())
  const boards = keys.flatMap((key, i): Array<BoardChange> => {
    const b = parseBoardKeyString(key)
    return b === null ? [] : [{ board: b.board, window: b.window, period: b.period, xp: amounts[i] ?? 0 }]
  })
  const total_xp_after = rI64()
  const level_before = rU8()
  const level_after = rU8()
  const rules_version = rStr()
  const stream_time = rTime()
  return {
    kind: "correction", correction_id, correction, seq, user_id, agent_name, event_id, event_seq: eventSeq === 0 ? null : eventSeq,
    reason, by, requested_xp, xp, boards, total_xp_after, level_before, level_after, rules_version, stream_time
  }
}

/** The ledger item of an award or correction row, as the engine made it; null for other kinds. */
export const readLedgerItem = (rows: RowLog, i: number): LedgerItem | null => {
  const k = rows.kind[i]!
  if (k !== KIND_AWARD && k !== KIND_CORRECTION) return null
  rb = rows.slabs[rows.slab[i]!]!
  rv = rows.views[rows.slab[i]!]!
  rp = rows.start[i]!
  return k === KIND_AWARD ? readAward() : readCorrection()
}
