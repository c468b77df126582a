// The live page at `/`, the analytics dashboard at `/dashboard` (when mounted), and their assets
// under /assets/ (an allowlist read once at start-up; uPlot from node_modules). Strict CSP, no CDN.
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { notFound } from "../http/ApiError.js"
import type { Reply } from "../http/Http.js"
import type { Route } from "../http/Router.js"

const CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "font-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"
].join("; ")

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml"
}

const PAGE_HEADERS = {
  "Content-Security-Policy": CSP,
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cache-Control": "no-cache"
}

/** src/gateway/pages next to this module, or (when running from dist/) the source tree's copy. */
export const defaultPagesDir = (): string => {
  const here = path.dirname(fileURLToPath(import.meta.url))
  for (const dir of [path.resolve(here, "../pages"), path.resolve(here, "../../../src/gateway/pages")]) {
    if (fs.existsSync(path.join(dir, "index.html"))) return dir
  }
  return path.resolve(here, "../pages")
}

interface Asset {
  readonly body: Uint8Array
  readonly type: string
}

const load = (file: string): Asset | null => {
  try {
    return { body: fs.readFileSync(file), type: TYPES[path.extname(file)] ?? "application/octet-stream" }
  } catch {
    return null
  }
}

const serve = (a: Asset | null, what: string): Reply => {
  if (a === null) throw notFound(`${what} is not installed`)
  return { status: 200, body: a.body, contentType: a.type, headers: PAGE_HEADERS }
}

export const pageRoutes = (pagesDir: string, withDashboard: boolean): ReadonlyArray<Route> => {
  const require = createRequire(import.meta.url)
  const uplotDir = path.dirname(require.resolve("uplot/dist/uPlot.iife.min.js"))
  const assets = new Map<string, Asset>()
  const names = fs.existsSync(pagesDir) ? fs.readdirSync(pagesDir) : []
  for (const name of names) {
    if (!/^[a-z0-9-]+\.(js|css|png|svg)$/.test(name) || name.endsWith(".test.js")) continue
    if (name.startsWith("dashboard") && !withDashboard) continue
    const a = load(path.join(pagesDir, name))
    if (a !== null) assets.set(name, a)
  }
  if (withDashboard) {
    for (const name of ["uPlot.iife.min.js", "uPlot.min.css"]) {
      const a = load(path.join(uplotDir, name))
      if (a !== null) assets.set(name, a)
    }
  }
  const index = load(path.join(pagesDir, "index.html"))
  const routes: Array<Route> = [
    { method: "get", pattern: "/", handler: () => serve(index, "the live page") },
    {
      method: "get",
      pattern: "/assets/:name",
      handler: (req) => serve(assets.get(req.params[0]!) ?? null, `asset ${req.params[0]!}`)
    }
  ]
  if (withDashboard) {
    const dashboard = load(path.join(pagesDir, "dashboard.html"))
    routes.push({ method: "get", pattern: "/dashboard", handler: () => serve(dashboard, "the dashboard page") })
  }
  return routes
}
