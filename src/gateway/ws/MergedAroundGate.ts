// Admission of /ws/leaderboard/{board}/around/{user_id} on the partitioned gateway (ARCHITECTURE §7,
// §11): the single process's admission (rate limit, query, limits), then the privacy rule it checks
// against its own user table — asked here of the user's partition, since no gateway holds users. A
// private user's window is refused 404 (its frames would tie their id to their rank for every
// watcher); a user whose partition cannot answer is refused 503 (privacy is not guessed).
import { ApiError, notFound } from "../http/ApiError.js"
import { errorReply } from "../http/Http.js"
import { isPartitionsUnavailable } from "../../ports/MergedReads.js"
import type { Admission, Admit, UpgradeRequest } from "./Admission.js"
import type { ConnSpec } from "./HostLink.js"

export interface AroundPrivacy {
  /** Whether the user chose "private" (false for an unknown user); rejects when their partition has no owner. */
  readonly isPrivate: (userId: string) => Promise<boolean>
  /** Retry-After of a 503 (about the lease TTL). */
  readonly retryAfterS: number
  readonly warn: (m: string) => void
}

const refused = (e: ApiError): Admit<never> => ({ ok: false, refusal: { reply: errorReply(e), extra: [["X-Content-Type-Options", "nosniff"]] } })

/** Admits an around-me upgrade as the single process does, then asks the user's partition whether they are private. */
export const admitAround = async (admission: Admission, privacy: AroundPrivacy, req: UpgradeRequest): Promise<Admit<ConnSpec>> => {
  const a = admission.leaderboard(req)
  const around = a.ok ? a.value.around : undefined
  if (!a.ok || around === undefined) return a
  let e: ApiError | null = null
  try {
    if (await privacy.isPrivate(around.user_id)) e = notFound(`user ${around.user_id} has no rank on ${a.value.board} (window=${a.value.window})`)
  } catch (err) {
    if (!isPartitionsUnavailable(err)) privacy.warn(`around-me admission of ${around.user_id}: ${err instanceof Error ? err.message : String(err)}`)
    e = isPartitionsUnavailable(err)
      ? new ApiError(503, "partition_unavailable", err.message, [], { "Retry-After": String(privacy.retryAfterS) })
      : new ApiError(500, "internal", "internal error")
  }
  if (e === null) return a
  admission.release(req.ip, "leaderboard")
  return refused(e)
}
