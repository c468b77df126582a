// `arena rules diff <file> [--json] [--progress-json]`: the dry run of a rules change (ARCHITECTURE
// §10). Scores the whole stream under the proposed file beside the rules history in force (read
// from Postgres; the ARENA_RULES file when none is recorded yet) and prints the report as text or
// JSON. Progress: a bar on a terminal, JSON lines on stderr with --progress-json (what the
// service's POST /v1/rules/dry-run reads from the child process it starts). Partitioned mode
// (ARENA_PARTITIONS set, ARCHITECTURE §9): the whole stream's partition subjects, as each partition
// reads its own (jobs/DryRun.ts `partitions`); voids from every partition's corrections subject.
import { Effect } from "effect"
import type { ArenaConfig } from "../Config.js"
import type { Log } from "../observability/Log.js"
import { loadRulesCandidate, rulesCandidateOf } from "../App.js"
import { compileHistory } from "../actors/EstablishRulesHistory.js"
import { makeEventSource } from "../adapters/nats/EventSource.js"
import { openNats } from "../adapters/nats/Nats.js"
import { streamNames } from "../adapters/nats/Streams.js"
import { makeVoidScan } from "../adapters/nats/VoidScan.js"
import { makeProjectionStore } from "../adapters/postgres/ProjectionStore.js"
import { ensureDatabase, openDb } from "../adapters/postgres/Db.js"
import { migrate } from "../adapters/postgres/Migrations.js"
import { makeRulesStore } from "../adapters/postgres/RulesStore.js"
import { kindSubjects } from "../domain/MessageKind.js"
import { KIND_TOKENS, PARTITION_PREFIX } from "../domain/Partition.js"
import { RulesHistory } from "../domain/RulesHistory.js"
import { renderDiffText } from "../domain/RulesDiffText.js"
import { dryRun } from "../jobs/DryRun.js"
import type { DryRunProgress } from "../jobs/DryRun.js"

const USAGE = "usage: arena rules diff <rules.json> [--json] [--progress-json]\n       arena rules apply <rules.json> [--retroactive] [--json]"

const bar = (p: DryRunProgress): string => {
  const width = 30
  const full = Math.round((p.percent / 100) * width)
  return `\r[${"#".repeat(full)}${"-".repeat(width - full)}] ${p.percent.toFixed(1).padStart(5)}%  seq ${p.seq}/${p.lastSeq}  ${p.eventsPerSecond} ev/s   `
}

export const rulesCommand = async (config: ArenaConfig, log: Log, args: ReadonlyArray<string>, flags: Readonly<Record<string, unknown>>): Promise<number> => {
  const [sub, file] = args
  if (sub === "reproject") return (await import("./reprojectCommand.js")).reprojectCommand(config, log, file, flags)
  if (sub === "apply") return (await import("./rulesApplyCommand.js")).rulesApplyCommand(config, file, flags)
  if (sub !== "diff" || file === undefined) {
    process.stderr.write(`${USAGE}\n`)
    return 2
  }
  let proposed
  try {
    proposed = rulesCandidateOf(file, "file")
  } catch (e) {
    process.stderr.write(`arena rules diff: ${file}: ${(e as Error).message}\n`)
    return 2
  }
  const asJson = flags["json"] === true
  const progressJson = flags["progress-json"] === true
  const tty = process.stderr.isTTY === true && !progressJson
  const t0 = Date.now()
  const program = Effect.gen(function*() {
    yield* ensureDatabase(config.databaseUrl)
    const sql = yield* openDb(config.databaseUrl)
    yield* migrate(sql)
    const stored = yield* makeRulesStore(sql).history
    const inForce = loadRulesCandidate(config)
    const history = stored.length === 0 ? RulesHistory.single(inForce.rules, inForce.contentHash) : yield* compileHistory(stored, inForce)
    if (!progressJson) log.info(stored.length === 0 ? `no rules history recorded yet: comparing with ${inForce.source} (${inForce.rules.version})` : `rules in force: ${history.versions.map((v) => `${v.rules.version} from seq ${v.effectiveFromSeq}`).join(", ")}`)
    // Voids (§10): the live projection re-scored those up to the seq its re-projection was built through.
    const projections = makeProjectionStore(sql)
    const projection = yield* projections.current
    const builtSeq = projection === 0 ? 0 : (yield* projections.get(projection))?.built_seq ?? 0
    const nats = yield* openNats(config.natsUrl, "arena-rules-diff")
    const p = config.partitions
    // Partitioned: every partition's subjects (a filtered consumer hands each message's subject on).
    const events = p === undefined
      ? makeEventSource(nats, config.stream, kindSubjects(config.subjectPrefix))
      : makeEventSource(nats, config.stream, [], { filterSubject: `${PARTITION_PREFIX}>` })
    const corrections = p === undefined ? streamNames(config).correctionSubject : `${PARTITION_PREFIX}*.${KIND_TOKENS.corrections}`
    return yield* dryRun({
      events,
      voids: { scan: makeVoidScan(makeEventSource(nats, config.stream, kindSubjects(config.subjectPrefix), { filterSubject: corrections })), projection, builtSeq },
      ...(p === undefined ? {} : { partitions: p }),
      history,
      proposed: proposed.rules,
      progressEveryMs: tty ? 200 : 1000,
      onProgress: (p) => {
        if (progressJson) process.stderr.write(JSON.stringify({ progress: { seq: p.seq, last_seq: p.lastSeq, percent: Math.round(p.percent * 10) / 10, events_per_second: p.eventsPerSecond } }) + "\n")
        else if (tty) process.stderr.write(bar(p))
      }
    })
  })
  const exit = await Effect.runPromiseExit(Effect.scoped(program))
  if (tty) process.stderr.write("\n")
  if (exit._tag === "Failure") {
    log.error(`rules diff failed: ${String(exit.cause)}`)
    return 1
  }
  const elapsedMs = Date.now() - t0
  const report = exit.value
  const run = {
    elapsed_ms: elapsedMs,
    // CPU time apart from wall time: on a shared machine the two differ by the other work's share.
    cpu_ms: Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1000),
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
    events_per_second: Math.round(report.stream.messages / Math.max(0.001, elapsedMs / 1000)),
    proposed_content_hash: proposed.contentHash
  }
  const text = asJson
    ? JSON.stringify({ ...report, run }) + "\n"
    : renderDiffText(report) + `\n(${(elapsedMs / 1000).toFixed(1)} s, peak memory ${(run.peak_rss_bytes / 2 ** 20).toFixed(0)} MiB)\n`
  // A pipe takes a large report asynchronously: the command exits only once it is all written.
  await new Promise<void>((resolve) => process.stdout.write(text, () => resolve()))
  return 0
}
