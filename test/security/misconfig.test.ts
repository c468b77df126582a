// OWASP API8 (security misconfiguration) on the real process: with NODE_ENV=production, `arena
// serve` refuses to start with auth off, without a secret, with a short one, or with a secret that
// ships in this repository (docker-compose's demo default, the dev fallback) — anyone could mint
// admin tokens with those. A proper secret starts.
import { afterAll, expect, it } from "vitest"
import { ArenaProcess, cleanup, freshNames } from "../support/arena.js"

const names = freshNames("miscfg")
afterAll(async () => {
  await cleanup(names)
})

const startWith = async (env: Record<string, string>): Promise<string> => {
  const p = new ArenaProcess(names, { NODE_ENV: "production", ...env })
  try {
    await p.start()
    await p.stop()
    return "started"
  } catch (e) {
    await p.kill()
    return String(e)
  }
}

it("refuses unsafe production settings and names the problem", async () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ ARENA_JWT_SECRET: "" }, /ARENA_JWT_SECRET is not set/],
    [{ ARENA_JWT_SECRET: "short-secret" }, /at least 32 bytes/],
    [{ ARENA_JWT_SECRET: "arena-dev-secret-not-for-production-0000" }, /well-known default/],
    [{ ARENA_JWT_SECRET: "change-me-arena-dev-secret-0123456789" }, /well-known default/], // docker-compose.yml's demo default
    [{ ARENA_JWT_SECRET: "x".repeat(40), ARENA_AUTH: "off" }, /development only/]
  ]
  for (const [env, reason] of cases) {
    const outcome = await startWith(env)
    expect({ env, refused: /exited with [1-9]/.test(outcome) && reason.test(outcome) }, outcome.slice(0, 400)).toEqual({ env, refused: true })
  }
  expect(await startWith({ ARENA_JWT_SECRET: "k5Jq8vT0xR2mW9zL4nB7cY1aE6fH3gU-secret-for-tests" })).toBe("started")
})
