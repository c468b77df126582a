// Applies the stream definitions in streams/*.json idempotently at start-up: creates what is
// missing, updates what may be updated, and fails clearly on a conflict it must not paper over.
import type { JetStreamManager, StreamConfig, StreamInfo } from "@nats-io/jetstream"
import { RetentionPolicy, StorageType, DiscardPolicy } from "@nats-io/jetstream"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { ArenaConfig } from "../../Config.js"
import { retrySettling } from "./ClusterOps.js"
import { NatsError, classifyNats } from "./NatsError.js"

const streamsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../streams")

interface StreamFile {
  name: string
  subjects: string[]
  retention: "limits" | "workqueue" | "interest"
  storage: "file" | "memory"
  discard: "old" | "new"
  max_msg_size: number
  duplicate_window: string
  num_replicas: number
}

/** The names Arena uses, derived from config (tests pass fresh ones). */
export interface StreamNames {
  readonly events: string
  readonly dlq: string
  readonly eventSubject: string
  readonly dlqSubject: string
  readonly correctionSubject: string
  /** Settings changes (ARCHITECTURE §11): captured by the event stream, applied in its order. */
  readonly settingsSubject: string
  /** Erasures (ARCHITECTURE §11): publishing here is the permission to erase any user. */
  readonly erasureSubject: string
}

export const streamNames = (c: Pick<ArenaConfig, "stream" | "subjectPrefix">): StreamNames => ({
  events: c.stream,
  dlq: `${c.stream}_DLQ`,
  eventSubject: `${c.subjectPrefix}.events`,
  dlqSubject: `${c.subjectPrefix}.dlq`,
  correctionSubject: `${c.subjectPrefix}.corrections`,
  settingsSubject: `${c.subjectPrefix}.settings`,
  erasureSubject: `${c.subjectPrefix}.erasures`
})

/**
 * ARENA_PARTITIONS (absent or undefined: single-process mode, the stream files as they are), and
 * in partitioned mode the replicas of the event and dead-letter streams: 3 on a NATS cluster (as the
 * lease and assignment streams), so the node leading the event stream can die without taking the
 * stream with it. With the files' R1 a cluster's event stream lived on one node, and killing it
 * stopped every partition until that node came back (test/cluster/partitionedChaos.test.ts).
 */
interface Partitioned { readonly partitions?: number | undefined; readonly replicas?: number | undefined }

const readDef = (file: string): StreamFile => JSON.parse(fs.readFileSync(path.join(streamsDir, file), "utf8")) as StreamFile

/** The desired configs: the files' settings with this deployment's names and duplicate window. */
export const desiredStreams = (c: Pick<ArenaConfig, "stream" | "subjectPrefix" | "duplicateWindowMs"> & Partitioned): Array<Partial<StreamConfig> & { name: string }> => {
  const rename = (s: string) => s.replace(/^arena\.xp/, c.subjectPrefix)
  // Partitioned mode (ARCHITECTURE §9): events are captured where the server's mapping puts them,
  // `<prefix>.p.<k>.<token>`; bare `<prefix>.events[.>]` publishes are not captured (no ack).
  const subjectsOf = (file: string, subjects: ReadonlyArray<string>): Array<string> =>
    c.partitions === undefined || file !== "ARENA_XP.json"
      ? subjects.map(rename)
      : [`${c.subjectPrefix}.p.>`, ...subjects.filter((s) => !s.startsWith("arena.xp.events")).map(rename)]
  return [
    { file: "ARENA_XP.json", name: c.stream },
    { file: "ARENA_XP_DLQ.json", name: `${c.stream}_DLQ` }
  ].map(({ file, name }) => {
    const d = readDef(file)
    return {
      name,
      subjects: subjectsOf(file, d.subjects),
      retention: d.retention === "limits" ? RetentionPolicy.Limits : d.retention === "workqueue" ? RetentionPolicy.Workqueue : RetentionPolicy.Interest,
      storage: d.storage === "file" ? StorageType.File : StorageType.Memory,
      discard: d.discard === "old" ? DiscardPolicy.Old : DiscardPolicy.New,
      max_msg_size: d.max_msg_size,
      duplicate_window: c.duplicateWindowMs * 1_000_000,
      num_replicas: c.partitions !== undefined && c.replicas !== undefined ? c.replicas : d.num_replicas
    }
  })
}

const sameSubjects = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => [...a].sort().join(",") === [...b].sort().join(",")

/** What differs between the live stream and the desired one; `fatal` if it cannot be updated in place. */
const diff = (live: StreamInfo, want: Partial<StreamConfig>) => {
  const changes: string[] = []
  let fatal = false
  if (want.storage !== undefined && live.config.storage !== want.storage) { changes.push(`storage ${live.config.storage} → ${want.storage}`); fatal = true }
  if (want.retention !== undefined && live.config.retention !== want.retention) { changes.push(`retention ${live.config.retention} → ${want.retention}`); fatal = true }
  if (want.subjects && !sameSubjects(live.config.subjects ?? [], want.subjects)) changes.push(`subjects ${live.config.subjects} → ${want.subjects}`)
  if (want.duplicate_window !== undefined && live.config.duplicate_window !== want.duplicate_window) changes.push(`duplicate_window ${live.config.duplicate_window / 1e9}s → ${want.duplicate_window / 1e9}s`)
  if (want.max_msg_size !== undefined && live.config.max_msg_size !== want.max_msg_size) changes.push(`max_msg_size ${live.config.max_msg_size} → ${want.max_msg_size}`)
  if (want.discard !== undefined && live.config.discard !== want.discard) changes.push(`discard ${live.config.discard} → ${want.discard}`)
  // Replicas only go up here: a process started without knowing the cluster (`arena produce`) never scales a stream down.
  if (want.num_replicas !== undefined && live.config.num_replicas < want.num_replicas) changes.push(`num_replicas ${live.config.num_replicas} → ${want.num_replicas}`)
  return { changes, fatal }
}

/**
 * Create or update each stream; returns one log line per stream saying what was done. Settling
 * answers (a timeout, no responders, no leader yet) are retried with back-off: on a cluster whose
 * node just rejoined, a processor's first `stream info` timed out and the processor exited
 * (CI run E1). Each call is idempotent: an add of the same config answers with the stream.
 */
export const provisionStreams = (jsm: JetStreamManager, c: Pick<ArenaConfig, "stream" | "subjectPrefix" | "duplicateWindowMs"> & Partitioned) =>
  Effect.gen(function*() {
    const lines: string[] = []
    for (const want of desiredStreams(c)) {
      const live = yield* retrySettling(Effect.tryPromise({
        try: () => jsm.streams.info(want.name).catch((e: unknown) => {
          if (/stream not found/i.test(String((e as Error)?.message))) return null
          throw e
        }),
        catch: (e) => classifyNats(e, `reading stream ${want.name}`)
      }))
      if (live === null) {
        yield* retrySettling(Effect.tryPromise({ try: () => jsm.streams.add(want), catch: (e) => classifyNats(e, `creating stream ${want.name}`) }))
        lines.push(`stream ${want.name}: created (${want.subjects?.join(", ")})`)
        continue
      }
      const { changes, fatal } = diff(live, want)
      if (changes.length === 0) { lines.push(`stream ${want.name}: up to date`); continue }
      if (fatal) {
        return yield* Effect.fail(new NatsError({
          reason: "stream_conflict",
          retryable: false,
          message: `stream ${want.name} exists with settings that cannot be changed in place (${changes.join("; ")}); migrate or delete it deliberately`
        }))
      }
      yield* retrySettling(Effect.tryPromise({
        try: () => jsm.streams.update(want.name, { ...live.config, ...want, num_replicas: Math.max(live.config.num_replicas, want.num_replicas ?? 1) }),
        catch: (e) => classifyNats(e, `updating stream ${want.name} (${changes.join("; ")})`)
      }))
      lines.push(`stream ${want.name}: updated (${changes.join("; ")})`)
    }
    return lines
  })
