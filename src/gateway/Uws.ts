// The uWebSockets.js binding, and proof that it is the native addon: the package silently falls
// back to a slow pure-JS shim (node_modules/uWebSockets.js/src/uws.js → ../dist/index) on failure.
import uWS from "uWebSockets.js"
import { createRequire } from "node:module"
import * as path from "node:path"

export { uWS }
export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket, us_socket_context_t } from "uWebSockets.js"

const require = createRequire(import.meta.url)

/** Where the native addon for this Node ABI must live. */
export const nativeBinaryPath = (): string =>
  path.join(
    path.dirname(require.resolve("uWebSockets.js")),
    "..",
    "binaries",
    `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`
  )

/**
 * True iff `loaded` is the module object the native addon at `binary` exported (Node caches a
 * loaded .node file in require.cache under its path), and it has native-only members.
 */
export const isNativeUws = (loaded: unknown, binary: string, cache: NodeJS.Dict<NodeModule> = require.cache): boolean => {
  const entry = cache[binary]
  if (entry === undefined || entry.exports !== loaded) return false
  const m = loaded as Record<string, unknown>
  return typeof m["getParts"] === "function" && typeof m["SHARED_COMPRESSOR"] === "number"
}

/** Throws with a clear message when uWebSockets.js runs on its JS fallback. */
export const assertNativeUws = (): void => {
  const binary = nativeBinaryPath()
  if (!isNativeUws(uWS, binary)) {
    throw new Error(
      `uWebSockets.js is not running natively: expected the addon ${binary} ` +
        `(Node ${process.version}, ABI ${process.versions.modules}, ${process.platform}/${process.arch}) ` +
        `but the package fell back to its JavaScript shim` +
        (process.env["UWS_USE_FALLBACK"] ? " (UWS_USE_FALLBACK is set)" : "") +
        ". Use a Node version with a bundled binary (ABI 108 or 115) or reinstall the package."
    )
  }
}

/** uWS's typings omit getUserData(); each socket carries one `conn` object of ours. */
export const connOf = <C>(ws: uWS.WebSocket<{ conn: C }>): C =>
  (ws as unknown as { getUserData(): { conn: C } }).getUserData().conn

const textDecoder = new TextDecoder()
export const remoteAddress = (res: uWS.HttpResponse): string => textDecoder.decode(res.getRemoteAddressAsText())
export const proxiedAddress = (res: uWS.HttpResponse): string => textDecoder.decode(res.getProxiedRemoteAddressAsText())
