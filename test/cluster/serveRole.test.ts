// `arena serve --role …` and ARENA_PARTITIONS through the real CLI (bin/arena): a bad role or P is
// refused with exit 2 and a sentence naming the setting; partitioned mode
// needs the subject prefix the servers' mapping uses. (No service starts in these cases.)
import { spawn } from "node:child_process"
import * as path from "node:path"
import { expect, it } from "vitest"

const ROOT = path.resolve(import.meta.dirname, "../..")

const arena = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<{ code: number | null; err: string }> =>
  new Promise((resolve) => {
    const c = spawn(process.execPath, [path.join(ROOT, "bin/arena"), ...args], { cwd: ROOT, env: { ...process.env, ARENA_PARTITIONS: "", ...env }, stdio: ["ignore", "ignore", "pipe"] })
    let err = ""
    c.stderr.on("data", (b: Buffer) => (err += b.toString()))
    const t = setTimeout(() => c.kill("SIGKILL"), 60_000)
    c.on("close", (code) => { clearTimeout(t); resolve({ code, err }) })
  })

it("an unknown role is refused with the choices", async () => {
  const r = await arena(["serve", "--role", "worker"])
  expect(r.code).toBe(2)
  expect(r.err).toContain('arena serve: --role must be one of all, processor, gateway (got "worker")')
})

it("--role gateway without ARENA_PARTITIONS is refused, naming the variable", async () => {
  const r = await arena(["serve", "--role", "gateway"])
  expect(r.code).toBe(2)
  expect(r.err).toContain("--role gateway runs only in partitioned mode: set ARENA_PARTITIONS")
})

it("ARENA_PARTITIONS set with another subject prefix is refused, naming both settings", async () => {
  const r = await arena(["serve", "--role", "processor"], { ARENA_PARTITIONS: "8", ARENA_SUBJECT_PREFIX: "test.xp" })
  expect(r.code).toBe(2)
  expect(r.err).toContain("partitioned mode (ARENA_PARTITIONS=8) needs ARENA_SUBJECT_PREFIX=arena.xp (got test.xp)")
})

it("a bad ARENA_PARTITIONS is named before anything starts", async () => {
  const r = await arena(["serve"], { ARENA_PARTITIONS: "2000" })
  expect(r.code).toBe(2)
  expect(r.err).toMatch(/from 1 to 1024[\s\S]*ARENA_PARTITIONS/)
})
