// The shape every adapter's one tagged error has (PgError, NatsError, ClickHouseError): what the
// core needs to decide between retrying and giving up, and a sentence to report.
export interface PortFailure {
  readonly _tag: string
  /** One sentence, with the context of the call that failed. */
  readonly message: string
  /** Whether trying again later can help. */
  readonly retryable: boolean
}
