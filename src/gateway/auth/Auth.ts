// Bearer JWT auth (ARCHITECTURE §6): HS256 only, `exp` required and honoured, claims `sub` and a
// space-separated `scope`. Verified tokens are cached (bounded) so hot clients cost one Map lookup.
import { SignJWT, errors as joseErrors, jwtVerify } from "jose"
import { randomBytes } from "node:crypto"
import { ApiError, forbidden, missingToken, unauthorized } from "../http/ApiError.js"

export const SCOPE_EVENTS_WRITE = "events:write"
export const SCOPE_ADMIN = "admin"

export interface Principal {
  readonly sub: string
  readonly scopes: ReadonlySet<string>
  readonly admin: boolean
}

const SUB = /^[A-Za-z0-9._:@-]{1,128}$/
const MIN_SECRET_BYTES = 32
/** Secrets that appear in docs/examples (docker-compose.yml's demo default too): never acceptable in production. */
const KNOWN_DEFAULTS = new Set(["secret", "changeme", "change-me", "arena", "arena-dev-secret", "dev", "development", "test", "change-me-arena-dev-secret-0123456789"])

export const DEV_SECRET = "arena-dev-secret-not-for-production-0000"

/** Why a secret is unacceptable in production, or null when it is fine. */
export const secretProblem = (secret: string | undefined): string | null => {
  if (secret === undefined || secret === "") return "ARENA_JWT_SECRET is not set"
  if (Buffer.byteLength(secret, "utf8") < MIN_SECRET_BYTES) return `ARENA_JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes`
  // A "change me" placeholder is a default that someone forgot to change, whatever surrounds it.
  if (KNOWN_DEFAULTS.has(secret.toLowerCase()) || secret === DEV_SECRET || /change[-_ ]?me/i.test(secret)) return "ARENA_JWT_SECRET is a well-known default"
  return null
}

/** A fresh random secret, e.g. for `.env` files. */
export const generateSecret = (): string => randomBytes(48).toString("base64url")

const keyOf = (secret: string): Uint8Array => new TextEncoder().encode(secret)

/** `arena token`: an HS256 JWT with sub, scope, iat and exp. */
export const mintToken = async (
  claims: { readonly sub: string; readonly scope: string; readonly ttlSeconds: number },
  secret: string
): Promise<string> => {
  if (!SUB.test(claims.sub)) throw new Error("sub must be 1..128 characters of [A-Za-z0-9._:@-]")
  if (!(Number.isInteger(claims.ttlSeconds) && claims.ttlSeconds > 0)) throw new Error("ttlSeconds must be a positive integer")
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ scope: claims.scope })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + claims.ttlSeconds)
    .sign(keyOf(secret))
}

export const principalOf = (sub: string, scope: string): Principal => {
  const scopes = new Set(scope.split(" ").filter((s) => s.length > 0))
  return { sub, scopes, admin: scopes.has(SCOPE_ADMIN) }
}

/** With auth off (dev only) a request without a token acts as this principal. */
export const DEV_PRINCIPAL: Principal = principalOf("dev", `${SCOPE_EVENTS_WRITE} ${SCOPE_ADMIN}`)

/** Extracts the token of `Authorization: Bearer <t>`; "" when absent; throws 401 when malformed. */
export const bearerOf = (header: string): string => {
  if (header === "") return ""
  const m = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header)
  if (m === null) throw unauthorized("Authorization must be `Bearer <token>`")
  return m[1]!
}

export class Authenticator {
  private readonly key: Uint8Array | null
  private readonly cache = new Map<string, { principal: Principal; expMs: number }>()

  constructor(
    readonly enabled: boolean,
    secret: string | undefined,
    private readonly cacheSize = 10_000,
    private readonly now: () => number = Date.now
  ) {
    this.key = secret === undefined || secret === "" ? null : keyOf(secret)
    if (enabled && this.key === null) throw new Error("auth is on but ARENA_JWT_SECRET is not set")
  }

  /** The principal of a token; rejects with a 401 ApiError for anything not valid. */
  async verify(token: string): Promise<Principal> {
    const hit = this.cache.get(token)
    if (hit !== undefined) {
      if (hit.expMs > this.now()) return hit.principal
      this.cache.delete(token)
    }
    if (this.key === null) throw unauthorized("tokens cannot be verified: no secret is configured")
    let payload: Record<string, unknown>
    try {
      const r = await jwtVerify(token, this.key, { algorithms: ["HS256"], requiredClaims: ["sub", "exp"], currentDate: new Date(this.now()) })
      payload = r.payload as Record<string, unknown>
    } catch (e) {
      throw unauthorized(e instanceof joseErrors.JWTExpired ? "token expired" : "invalid token")
    }
    const sub = payload["sub"], scope = payload["scope"] ?? "", exp = payload["exp"]
    if (typeof sub !== "string" || !SUB.test(sub)) throw unauthorized("invalid token: bad sub claim")
    if (typeof scope !== "string") throw unauthorized("invalid token: scope must be a space-separated string")
    if (typeof exp !== "number") throw unauthorized("invalid token: bad exp claim")
    const principal = principalOf(sub, scope)
    if (this.cache.size >= this.cacheSize) {
      const oldest = this.cache.keys().next()
      if (oldest.done !== true) this.cache.delete(oldest.value)
    }
    this.cache.set(token, { principal, expMs: exp * 1000 })
    return principal
  }

  /** Resolves the request's principal: null for anonymous (auth on, no token). */
  async authenticate(authorizationHeader: string, queryToken = ""): Promise<Principal | null> {
    const token = bearerOf(authorizationHeader) || queryToken
    if (token === "") return this.enabled ? null : DEV_PRINCIPAL
    return this.verify(token)
  }
}

/**
 * 401 when anonymous, 403 when the token lacks the scope. No scope implies another: `admin` does
 * not pass an `events:write` check (§6: producers' writes need events:write; a token may carry both).
 */
export const requireScope = (p: Principal | null, scope: string): Principal => {
  if (p === null) throw missingToken()
  if (!p.scopes.has(scope)) throw forbidden(`token lacks scope ${scope}`)
  return p
}

/** 401 when anonymous, 403 unless the token's sub is `owner` or it is an admin. */
export const requireOwner = (p: Principal | null, owner: string): Principal => {
  if (p === null) throw missingToken()
  if (!p.admin && p.sub !== owner) throw forbidden("this resource belongs to another user")
  return p
}

export const isApiError = (e: unknown): e is ApiError => e instanceof ApiError

/** 401 for anonymous requests to routes that need some identity (any scope). */
export const missingTokenIfAnonymous = (p: Principal | null): Principal => {
  if (p === null) throw missingToken()
  return p
}
