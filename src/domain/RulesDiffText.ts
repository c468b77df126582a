// The dry run's report as text for a terminal (`arena rules diff <file>`): the summary, the
// biggest movers, and per board the ranks that change; the top-N tables side by side for the
// global board's windows whose top changes (JSON has every board's).
import type { DiffBoard, DiffUser, RulesDiffReport } from "./RulesDiff.js"

const n = (x: number): string => x.toLocaleString("en-US")
const signed = (x: number): string => (x > 0 ? `+${n(x)}` : x < 0 ? `-${n(-x)}` : "0")
const pad = (s: string, w: number): string => (s.length >= w ? s : s + " ".repeat(w - s.length))
const lpad = (s: string, w: number): string => (s.length >= w ? s : " ".repeat(w - s.length) + s)
const cut = (s: string, w: number): string => (s.length > w ? s.slice(0, w - 1) + "…" : s)

const achievements = (u: DiffUser): string =>
  [...u.achievements_gained.map((a) => `+${a}`), ...u.achievements_lost.map((a) => `-${a}`)].join(" ")

const userLines = (users: ReadonlyArray<DiffUser>): Array<string> => [
  `  ${pad("user", 24)} ${lpad("xp now", 12)} ${lpad("proposed", 12)} ${lpad("delta", 11)}  ${pad("level", 7)} achievements`,
  ...users.map((u) =>
    `  ${pad(cut(u.user_id, 24), 24)} ${lpad(n(u.xp_before), 12)} ${lpad(n(u.xp_after), 12)} ${lpad(signed(u.delta), 11)}  ` +
    `${pad(u.level_before === u.level_after ? String(u.level_after) : `${u.level_before}→${u.level_after}`, 7)} ${achievements(u)}`)
]

const boardName = (b: DiffBoard): string => `${b.board} ${b.window}${b.window === "all" ? "" : ` ${b.period}`}`

const topTable = (b: DiffBoard): Array<string> => {
  const rows = Math.max(b.top_before.length, b.top_after.length)
  const cell = (r: { user_id: string; xp: number } | undefined) => (r === undefined ? "" : `${cut(r.user_id, 22)} ${n(r.xp)}`)
  const out = [`    ${lpad("rank", 4)}  ${pad("now", 36)} proposed`]
  for (let i = 0; i < rows; i++) {
    const a = b.top_before[i]
    const c = b.top_after[i]
    const same = a !== undefined && c !== undefined && a.user_id === c.user_id && a.xp === c.xp
    out.push(`    ${lpad(String(i + 1), 4)}  ${pad(cell(a), 36)} ${cell(c)}${same ? "" : "  *"}`)
  }
  return out
}

export const renderDiffText = (r: RulesDiffReport): string => {
  const L: Array<string> = []
  const forced = r.in_force.map((v) => `${v.version} from seq ${n(v.effective_from_seq)}`).join(", ")
  L.push(`Rules dry run: proposed ${r.proposed.version}, scored over the whole stream beside the rules in force (${forced})`)
  const s = r.stream
  L.push(`Stream: ${n(s.messages)} messages through seq ${n(s.last_seq)}; applied ${n(s.applied_before)} now, ${n(s.applied_after)} proposed; ` +
    `rejected ${n(s.rejected_before)} now, ${n(s.rejected_after)} proposed`)
  const u = r.users
  L.push(`Users: ${n(u.after)} (${n(u.before)} now); ${n(u.changed)} change: XP ${n(u.xp_changed)}, level ${n(u.level_changed)}, ` +
    `achievements ${n(u.achievements_changed)}; ${n(u.up)} up, ${n(u.down)} down`)
  L.push(`XP: ${n(r.xp.total_before)} now → ${n(r.xp.total_after)} proposed (net ${signed(r.xp.net)}; moved ${n(r.xp.moved)} in total)`)
  L.push("")
  if (r.movers.length === 0) L.push("No user's XP, level or achievements change.")
  else {
    L.push(`Biggest movers (${r.movers.length} of ${n(u.changed)})`)
    L.push(...userLines(r.movers))
  }
  L.push("")
  const changedBoards = r.boards.filter((b) => b.ranks_changed > 0)
  L.push(`Boards: ${r.boards.length} open, ranks change on ${changedBoards.length}`)
  for (const b of r.boards) {
    L.push(`  ${pad(boardName(b), 40)} ${lpad(n(b.users_after), 9)} users  ${n(b.ranks_changed)} ranks change` +
      `${b.entered + b.left > 0 ? ` (${n(b.entered)} enter, ${n(b.left)} leave)` : ""}${b.top_changed ? `; top ${b.top_after.length || b.top_before.length} changes` : ""}`)
  }
  for (const b of r.boards) {
    if (!b.top_changed || b.board !== "global") continue
    L.push("")
    L.push(`  ${boardName(b)}: top ${Math.max(b.top_before.length, b.top_after.length)} now and proposed (* differs)`)
    L.push(...topTable(b))
    if (b.biggest_rank_moves.length > 0) {
      L.push(`    biggest rank moves: ${b.biggest_rank_moves.slice(0, 5).map((m) => `${m.user_id} ${m.rank_before}→${m.rank_after}`).join(", ")}`)
    }
  }
  return L.join("\n") + "\n"
}
