// The one retry schedule: exponential back-off from `initialMs`, doubling, capped at `maxMs`. A pure
// value; every retry in Arena (snapshots, dead letters, the analytics sink, pipeline restarts) uses
// it with its own bounds, through Effect.retry or Effect.repeat.
import { Duration, Effect, Schedule } from "effect"

export const backoff = (initialMs: number, maxMs: number): Schedule.Schedule<Duration.Duration> =>
  Schedule.exponential(Duration.millis(initialMs)).pipe(
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.millis(maxMs))))
  )
