// Structured-enough logging: one line per event, level and time first, to stderr.
export interface Log {
  debug(msg: string): void
  info(msg: string): void
  warn(msg: string): void
  error(msg: string): void
}

const ORDER = { debug: 0, info: 1, warn: 2, error: 3 } as const

export const makeLog = (level: keyof typeof ORDER = "info", name = "arena"): Log => {
  const at = (l: keyof typeof ORDER) => (msg: string) => {
    if (ORDER[l] >= ORDER[level]) process.stderr.write(`${new Date().toISOString()} ${l.toUpperCase().padEnd(5)} ${name}: ${msg}\n`)
  }
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") }
}
