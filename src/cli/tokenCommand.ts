// `arena token`: mint a JWT (HS256) for the demo and for scripts.
import type { ArenaConfig } from "../Config.js"
import { SignJWT } from "jose"

export const tokenCommand = async (config: ArenaConfig, v: Record<string, string | boolean | undefined>): Promise<number> => {
  const sub = typeof v.sub === "string" ? v.sub : undefined
  if (sub === undefined) { process.stderr.write("arena token: --sub <user id> is required\n"); return 2 }
  if (config.jwtSecret === undefined || config.jwtSecret.length < 16) { process.stderr.write("arena token: set ARENA_JWT_SECRET (at least 16 characters)\n"); return 2 }
  const scope = typeof v.scope === "string" ? v.scope : "events:write"
  const ttl = typeof v.ttl === "string" && /^\d+$/.test(v.ttl) ? Number(v.ttl) : 24 * 3600
  const token = await new SignJWT({ scope }).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setIssuedAt().setExpirationTime(`${ttl}s`)
    .sign(new TextEncoder().encode(config.jwtSecret))
  process.stdout.write(token + "\n")
  return 0
}
