// POST /v1/corrections (ARCHITECTURE §10): what the gateway hands a correction request to. The
// core checks it at the door (the voided event's award from the ledger, whether it was voided
// already, whether the user exists) and publishes it to `<prefix>.corrections` with Nats-Msg-Id =
// correction_id; the processor applies it in stream order. Implemented by actors/Corrections.ts.
import type { Issue } from "../domain/Model.js"

export type CorrectionSubmit =
  | { readonly ok: true; readonly status: "accepted" | "duplicate"; readonly correction_id: string; readonly seq: number }
  | { readonly ok: false; readonly status: 400 | 404 | 409 | 503; readonly code: string; readonly message: string; readonly details: ReadonlyArray<Issue> }

export interface CorrectionsPort {
  /** `body`: the parsed JSON body; `by`: the admin's `sub` (recorded in the ledger entry). */
  submit(body: unknown, by: string): Promise<CorrectionSubmit>
}
