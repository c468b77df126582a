// Path patterns ("/v1/users/:user_id/ledger") matched the way uWS matches them, for requests that
// reach the Router without uWS's own routing (forwarded from a WS worker thread): segment by
// segment, a static segment beats a parameter; parameters come back raw (percent-encoded).

interface Entry<R> {
  readonly pattern: string
  readonly segments: ReadonlyArray<string>
  readonly methods: Map<string, R>
}

export class RouteTable<R> {
  private readonly entries: Array<Entry<R>> = []

  add(pattern: string, method: string, route: R): void {
    let e = this.entries.find((x) => x.pattern === pattern)
    if (e === undefined) {
      e = { pattern, segments: pattern.split("/").slice(1), methods: new Map() }
      this.entries.push(e)
    }
    e.methods.set(method, route)
  }

  /** Each pattern with its methods, in registration order. */
  patterns(): Array<readonly [string, Array<string>]> {
    return this.entries.map((e) => [e.pattern, [...e.methods.keys()]] as const)
  }

  match(path: string): { readonly methods: ReadonlyMap<string, R>; readonly params: ReadonlyArray<string> } | null {
    const segs = path.split("/").slice(1)
    let best: Entry<R> | null = null
    let bestParams: Array<string> = []
    let bestScore = ""
    for (const e of this.entries) {
      if (e.segments.length !== segs.length) continue
      const params: Array<string> = []
      let score = ""
      let ok = true
      for (let i = 0; i < segs.length && ok; i++) {
        const p = e.segments[i]!
        // A parameter never matches an empty segment ("/v1/leaderboards/" is not a board).
        if (p.startsWith(":")) { ok = segs[i] !== ""; params.push(segs[i]!); score += "0" }
        else if (p === segs[i]) score += "1"
        else ok = false
      }
      if (ok && (best === null || score > bestScore)) { best = e; bestParams = params; bestScore = score }
    }
    return best === null ? null : { methods: best.methods, params: bestParams }
  }
}
