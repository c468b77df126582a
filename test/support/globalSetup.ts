// Integration tests run the real service (`node bin/arena serve`), so compile it once first.
import { execFileSync } from "node:child_process"

export default function setup(): void {
  execFileSync("npx", ["tsc", "-p", "tsconfig.json"], { stdio: "inherit" })
}
