// HTTP ingest: what POST /v1/events needs (validate, then publish to the stream with
// Nats-Msg-Id = event_id). The NATS adapter implements it with a validator from the domain.
import type { Issue, RejectReason } from "../domain/Model.js"

export type PublishResult =
  | { status: "accepted"; event_id: string; seq: number }
  | { status: "duplicate"; event_id: string; seq: number }
  | { status: "rejected"; event_id: string | null; error: { code: string; message: string; details: ReadonlyArray<Issue> } }

/** POST /v1/events: validate then publish to ARENA_XP with Nats-Msg-Id (bounded acks in flight). */
export interface IngestPort {
  publish(items: ReadonlyArray<unknown>): Promise<ReadonlyArray<PublishResult>>
}

/** Decides whether one parsed item may be published: the event JSON to publish, or why not. */
export type Validate = (item: unknown) =>
  | { ok: true; eventId: string; json: string }
  | { ok: false; eventId: string | null; reason: RejectReason; message: string; issues: ReadonlyArray<Issue> }
