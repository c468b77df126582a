// The live page: watches the top 20 of a board over /ws/leaderboard (snapshot + deltas, applied
// exactly as docs/websocket.md says), shows rank movement, resumes after drops, looks up profiles,
// shows the live window around the looked-up user (/ws/leaderboard/{board}/around/{user_id}) and
// group boards (group:<id>).
const LIMIT = 20
const RADIUS = 3
const $ = (id) => document.getElementById(id)

const state = { ws: null, board: "global", window: "all", entries: [], seq: null, epoch: null, period: null, retry: 0, timer: null }

/** Reference apply (same as src/gateway/protocol/Delta.ts applyDelta). */
export function applyDelta(entries, delta, limit) {
  const drop = new Set(delta.removed)
  for (const c of delta.changes) drop.add(c.user_id)
  const out = entries.filter((e) => !drop.has(e.user_id))
  for (const c of [...delta.changes].sort((a, b) => a.rank - b.rank)) {
    out.splice(c.rank - 1, 0, { rank: c.rank, user_id: c.user_id, username: c.username, xp: c.xp, level: c.level })
  }
  out.length = Math.min(out.length, limit)
  return out.map((e, i) => (e.rank === i + 1 ? e : { ...e, rank: i + 1 }))
}

/** Around-me apply (same as src/gateway/protocol/Delta.ts applyWindowDelta): the window starts at firstRank. */
export function applyWindowDelta(entries, delta, firstRank) {
  if (firstRank === null) return []
  const drop = new Set(delta.removed)
  for (const c of delta.changes) drop.add(c.user_id)
  const out = entries.filter((e) => !drop.has(e.user_id))
  for (const c of [...delta.changes].sort((a, b) => a.rank - b.rank)) {
    out.splice(c.rank - firstRank, 0, { rank: c.rank, user_id: c.user_id, username: c.username, xp: c.xp, level: c.level })
  }
  return out.map((e, i) => (e.rank === firstRank + i ? e : { ...e, rank: firstRank + i }))
}

function setStatus(text, cls) {
  const el = $("status")
  el.textContent = text
  el.className = "status " + (cls || "")
}

function render(before, changed) {
  const prevRank = new Map(before.map((e) => [e.user_id, e.rank]))
  const rows = $("rows")
  rows.replaceChildren(...state.entries.map((e) => {
    const tr = document.createElement("tr")
    tr.dataset.user = e.user_id
    const was = prevRank.get(e.user_id)
    const move = document.createElement("td")
    move.className = "move"
    if (before.length > 0 && was === undefined) { move.textContent = "new"; move.classList.add("new") }
    else if (was !== undefined && was > e.rank) { move.textContent = "▲" + (was - e.rank); move.classList.add("up") }
    else if (was !== undefined && was < e.rank) { move.textContent = "▼" + (e.rank - was); move.classList.add("down") }
    if (changed.has(e.user_id)) tr.classList.add("flash")
    const cells = [
      ["rank", String(e.rank)], null,
      ["user", e.username || e.user_id], ["num", String(e.level)], ["num xp", e.xp.toLocaleString("en-US")]
    ]
    for (const c of cells) {
      if (c === null) { tr.append(move); continue }
      const td = document.createElement("td")
      td.className = c[0]
      td.textContent = c[1]
      if (c[0] === "user" && e.username && e.username !== e.user_id) {
        const small = document.createElement("small")
        small.textContent = e.user_id
        td.append(small)
      }
      tr.append(td)
    }
    return tr
  }))
  $("empty").hidden = state.entries.length > 0
  $("seq").textContent = state.seq === null ? "–" : String(state.seq)
  $("epoch").textContent = state.epoch || "–"
  $("period").textContent = state.window === "all" ? "" : "period " + state.period
}

function onMessage(msg) {
  const before = state.entries
  if (msg.type === "snapshot") {
    Object.assign(state, { entries: msg.entries, seq: msg.seq, epoch: msg.epoch, period: msg.period })
    render(before, new Set())
  } else if (msg.type === "delta") {
    // A delta that does not chain onto what we hold: resume (the server answers with the missed
    // deltas or a snapshot) instead of showing a wrong board.
    if (msg.epoch !== state.epoch || msg.prev_seq !== state.seq) return reconnect(true)
    state.entries = applyDelta(state.entries, msg, LIMIT)
    state.seq = msg.seq
    render(before, new Set(msg.changes.map((c) => c.user_id)))
  }
}

function connect(resume) {
  clearTimeout(state.timer)
  const q = new URLSearchParams({ window: state.window, limit: String(LIMIT) })
  if (resume && state.seq !== null && state.epoch) { q.set("since", String(state.seq)); q.set("epoch", state.epoch) }
  const proto = location.protocol === "https:" ? "wss" : "ws"
  const ws = new WebSocket(`${proto}://${location.host}/ws/leaderboard/${encodeURIComponent(state.board)}?${q}`)
  state.ws = ws
  ws.onopen = () => { state.retry = 0; setStatus("live", "live") }
  ws.onmessage = (ev) => { if (state.ws === ws) onMessage(JSON.parse(ev.data)) }
  ws.onclose = () => {
    if (state.ws !== ws) return
    setStatus("reconnecting…", "down")
    state.timer = setTimeout(() => connect(true), Math.min(10_000, 250 * 2 ** state.retry++))
  }
}

function reconnect(resume) {
  const old = state.ws
  state.ws = null
  if (old) old.close()
  if (!resume) Object.assign(state, { entries: [], seq: null, epoch: null })
  connect(resume)
}

// ---- around me: the live window of ranks around the looked-up user ----

const around = { ws: null, user: null, entries: [], seq: null, epoch: null, firstRank: null, retry: 0, timer: null }

function renderAround() {
  $("around").hidden = around.user === null
  $("around-user").textContent = around.user || ""
  $("around-rows").replaceChildren(...around.entries.map((e) => {
    const tr = document.createElement("tr")
    tr.dataset.user = e.user_id
    if (e.user_id === around.user) tr.className = "me"
    for (const [cls, text] of [["rank", String(e.rank)], ["user", e.username || e.user_id], ["num xp", e.xp.toLocaleString("en-US")]]) {
      const td = document.createElement("td")
      td.className = cls
      td.textContent = text
      tr.append(td)
    }
    return tr
  }))
  $("around-empty").hidden = around.user === null || around.entries.length > 0
}

function onAroundMessage(msg) {
  if (msg.type === "snapshot") {
    Object.assign(around, { entries: msg.entries, seq: msg.seq, epoch: msg.epoch, firstRank: msg.first_rank })
  } else if (msg.type === "delta") {
    if (msg.epoch !== around.epoch || msg.prev_seq !== around.seq) return watchAround(around.user, true)
    Object.assign(around, { entries: applyWindowDelta(around.entries, msg, msg.first_rank), seq: msg.seq, firstRank: msg.first_rank })
  }
  renderAround()
}

/** (Re)subscribes to the window around `user` on the current board and window; null stops. */
function watchAround(user, resume) {
  clearTimeout(around.timer)
  const old = around.ws
  around.ws = null
  if (old) old.close()
  if (!resume || user !== around.user) Object.assign(around, { entries: [], seq: null, epoch: null, firstRank: null })
  around.user = user
  renderAround()
  if (user === null) return
  const q = new URLSearchParams({ window: state.window, radius: String(RADIUS) })
  if (resume && around.seq !== null && around.epoch) { q.set("since", String(around.seq)); q.set("epoch", around.epoch) }
  const proto = location.protocol === "https:" ? "wss" : "ws"
  const ws = new WebSocket(`${proto}://${location.host}/ws/leaderboard/${encodeURIComponent(state.board)}/around/${encodeURIComponent(user)}?${q}`)
  around.ws = ws
  ws.onopen = () => { around.retry = 0; $("around-status").textContent = "live"; $("around-status").className = "status live" }
  ws.onmessage = (ev) => { if (around.ws === ws) onAroundMessage(JSON.parse(ev.data)) }
  ws.onclose = () => {
    if (around.ws !== ws) return
    $("around-status").textContent = "reconnecting…"
    $("around-status").className = "status down"
    around.timer = setTimeout(() => watchAround(around.user, true), Math.min(10_000, 250 * 2 ** around.retry++))
  }
}

// ---- group boards ----

function addBoardOption(name) {
  const select = $("board")
  if (![...select.options].some((o) => o.value === name)) {
    const o = document.createElement("option"); o.value = name; o.textContent = name; select.append(o)
  }
}

async function showGroup(id) {
  const info = $("group-info")
  info.className = "period"
  const r = await fetch(`/v1/groups/${encodeURIComponent(id)}`)
  const body = await r.json()
  if (!r.ok) { info.className = "period error"; info.textContent = body.error ? body.error.message : "no such group"; return }
  info.textContent = `${body.name} · ${body.size} members · owner ${body.owner}`
  addBoardOption(body.board)
  $("board").value = body.board
  switchBoard(body.board)
}

function switchBoard(board) {
  state.board = board
  reconnect(false)
  if (around.user !== null) watchAround(around.user, false)
}

async function loadBoards() {
  try {
    const r = await fetch("/v1/leaderboards")
    if (!r.ok) return
    const { boards } = await r.json()
    const select = $("board")
    const names = [...new Set(["global", ...boards.map((b) => b.board), ...[...select.options].map((o) => o.value), state.board])]
    select.replaceChildren(...names.map((n) => { const o = document.createElement("option"); o.value = n; o.textContent = n; return o }))
    select.value = state.board
  } catch { /* the board list is a convenience; global always works */ }
}

function dl(pairs) {
  const d = document.createElement("dl")
  for (const [k, v] of pairs) {
    const dt = document.createElement("dt"); dt.textContent = k
    const dd = document.createElement("dd"); dd.textContent = v
    d.append(dt, dd)
  }
  return d
}

async function lookup(userId) {
  const out = $("profile")
  out.replaceChildren()
  watchAround(userId, false)
  const r = await fetch(`/v1/users/${encodeURIComponent(userId)}`)
  const body = await r.json()
  if (!r.ok) {
    const p = document.createElement("p"); p.className = "error"; p.textContent = body.error ? body.error.message : "lookup failed"
    return out.append(p)
  }
  const h = document.createElement("h2"); h.textContent = body.username || body.user_id
  const lvl = body.level
  const unlocked = body.achievements.filter((a) => a.unlocked).map((a) => a.title)
  const ul = document.createElement("ul")
  for (const a of body.agent_stats) { const li = document.createElement("li"); li.textContent = `${a.agent_name}: ${a.xp} xp (${a.events} events)`; ul.append(li) }
  out.append(h, dl([
    ["total xp", body.total_xp.toLocaleString("en-US")],
    ["level", `${lvl.number} ${lvl.title}` + (lvl.xp_for_next === null ? "" : ` (${lvl.xp_for_next} to next)`)],
    ["streak", `${body.streak.current} days (longest ${body.streak.longest})`],
    ["achievements", unlocked.length ? unlocked.join(", ") : "none yet"]
  ]), ul)
}

document.addEventListener("DOMContentLoaded", () => {
  $("board").addEventListener("change", (e) => switchBoard(e.target.value))
  $("window").addEventListener("change", (e) => { state.window = e.target.value; switchBoard(state.board) })
  $("group-form").addEventListener("submit", (e) => { e.preventDefault(); showGroup($("group").value.trim()) })
  $("controls").addEventListener("submit", (e) => e.preventDefault())
  $("lookup").addEventListener("submit", (e) => { e.preventDefault(); lookup($("user").value.trim()) })
  $("rows").addEventListener("click", (e) => {
    const tr = e.target.closest("tr")
    if (tr && tr.dataset.user) { $("user").value = tr.dataset.user; lookup(tr.dataset.user) }
  })
  loadBoards()
  connect(false)
})
