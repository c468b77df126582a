// HTTP ingest: what POST /v1/events needs (validate, then publish to the stream with
// Nats-Msg-Id = event_id). The NATS adapter implements it with the domain's check.
import type { Issue } from "../domain/Model.js"
import type { PublishCheck } from "../domain/PublishCheck.js"

export type PublishResult =
  | { status: "accepted"; event_id: string; seq: number }
  | { status: "duplicate"; event_id: string; seq: number }
  | { status: "rejected"; event_id: string | null; error: { code: string; message: string; details: ReadonlyArray<Issue> } }

/** POST /v1/events: validate then publish to ARENA_XP with Nats-Msg-Id (bounded acks in flight). */
export interface IngestPort {
  publish(items: ReadonlyArray<unknown>): Promise<ReadonlyArray<PublishResult>>
}

/** Decides whether one parsed item may be published (domain/PublishCheck.ts with the server's clock). */
export type Validate = (item: unknown) => PublishCheck
