// Long form of the crash-oracle chaos soak (test/reliability/soak.test.ts, whose CI form is 20k
// events): ≥ 200k events, more kill -9s, a longer publishing window. Same test, same oracle; this
// only sizes it and prints the machine line and the soak's summary (corrections halfway, erasures at
// 30% and 70% of the stream, as in the CI form).
//   node bench/soak.mjs [--events 200000] [--kills 40] [--seconds 300] [--seed 20261126] [--users N]
import { spawn } from "node:child_process"
import * as path from "node:path"
import { ROOT, loadDuring, machine } from "./lib.mjs"

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : dflt
}
const events = Number(arg("events", 200_000))
const kills = Number(arg("kills", 40))
const seconds = Number(arg("seconds", 300))
const env = {
  ...process.env,
  SOAK_EVENTS: String(events),
  SOAK_KILLS: String(kills),
  SOAK_PUBLISH_SECONDS: String(seconds),
  SOAK_SEED: arg("seed", "20261126"),
  SOAK_TIME_LIMIT_MS: String(Math.max(900_000, seconds * 4000)),
  ...(arg("users", "") === "" ? {} : { SOAK_USERS: arg("users", "") })
}
console.log(`machine: ${machine()}`)
console.log(`soak: ${events} events, ≥ ${kills} kill -9s, publishing over ~${seconds} s (test/reliability/soak.test.ts)`)
const t0 = Date.now()
const child = spawn(path.join(ROOT, "node_modules/.bin/vitest"), ["run", "test/reliability/soak.test.ts", "--reporter=verbose"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "inherit"] })
let out = ""
child.stdout.on("data", (b) => { out += b; process.stdout.write(b) })
child.on("exit", (code) => {
  const summary = /soak: \d+ published[^\n]*(\n  kill[^\n]*)?/.exec(out)?.[0]
  console.log(`\n${code === 0 ? "PASS" : "FAIL"} in ${Math.round((Date.now() - t0) / 1000)} s (${loadDuring()})${summary ? `\n${summary}` : ""}`)
  process.exit(code ?? 1)
})
