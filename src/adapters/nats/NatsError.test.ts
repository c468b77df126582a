import { JetStreamApiError } from "@nats-io/jetstream"
import { describe, expect, it } from "vitest"
import { classifyNats } from "./NatsError.js"

describe("classifyNats", () => {
  it("reads JetStream's 503 'temporarily unavailable' (no quorum yet) as retryable, by its status, not its err_code", () => {
    const e = new JetStreamApiError({ code: 503, err_code: 10008, description: "JetStream system temporarily unavailable" })
    expect(e.code).toBe(10008)
    const n = classifyNats(e, "starting ordered consumer on S at seq 1")
    expect(n).toMatchObject({ reason: "unavailable", retryable: true })
    expect(n.message).toBe("starting ordered consumer on S at seq 1: JetStream system temporarily unavailable")
  })

  it("keeps other API errors not retryable, and timeouts and no responders retryable", () => {
    expect(classifyNats(new JetStreamApiError({ code: 400, err_code: 10058, description: "stream name already in use with a different configuration" }), "x"))
      .toMatchObject({ reason: "api", retryable: false })
    expect(classifyNats(new JetStreamApiError({ code: 404, err_code: 10059, description: "stream not found" }), "x"))
      .toMatchObject({ reason: "api", retryable: false })
    expect(classifyNats(Object.assign(new Error("TIMEOUT"), { name: "TimeoutError" }), "x")).toMatchObject({ reason: "timeout", retryable: true })
    expect(classifyNats(Object.assign(new Error("no responders"), { name: "NoRespondersError" }), "x")).toMatchObject({ reason: "no_responders", retryable: true })
  })
})
