// One measured fan-out session against a server already listening on `port`: a first probe process
// connects before everything (first in fan-out order), then the load-client processes, then the
// probe process connected last; `drive(mark)` runs the event stream and calls mark("start"/"stop")
// around the measured window; then every process reports.
import * as os from "node:os"
import * as path from "node:path"
import { cpuOf, forkScript, machineCpu, rssOf, threadsCpu, threadsDelta, waitMsg } from "./procs.mjs"

const log = (s) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`)

export const session = async ({ label, port, serverPid, sockets, probes, firstProbes = 0, loaders, readEvery = "1000", drive }) => {
  const kids = []
  try {
    // Probes connected before any load socket: fan-out order must not starve late subscribers,
    // so the first and the last connected are measured alike and reported apart.
    let first = null
    const firstOut = path.join(os.tmpdir(), `fanout-probes-first-${label}-${process.pid}.jsonl`)
    if (firstProbes > 0) {
      first = forkScript("./probes.mjs", ["--port", String(port), "--count", String(firstProbes), "--ipBase", "249", "--out", firstOut])
      kids.push(first)
      await waitMsg(first, "ready")
      log(`${label}: ${firstProbes} probes open (connected first)`)
    }
    const t0 = Date.now()
    const per = Math.ceil(sockets / loaders)
    const loads = []
    for (let j = 0; j < loaders; j++) {
      const count = Math.min(per, sockets - j * per)
      if (count <= 0) break
      const c = forkScript("./clients.mjs", ["--port", String(port), "--from", String(j * per), "--count", String(count), "--ipBase", String(10 + j), "--readEvery", readEvery],
        { execArgv: ["--max-old-space-size=4096"] })
      kids.push(c); loads.push(c)
    }
    await Promise.all(loads.map((c) => waitMsg(c, "ready")))
    log(`${label}: ${sockets} load sockets open in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
    const probeOut = path.join(os.tmpdir(), `fanout-probes-${label}-${process.pid}.jsonl`)
    const pr = forkScript("./probes.mjs", ["--port", String(port), "--count", String(probes), "--ipBase", "250", "--out", probeOut])
    kids.push(pr)
    await waitMsg(pr, "ready")
    log(`${label}: ${probes} probes open (connected last)`)

    const window = {}
    let rssMax = 0
    const sampler = setInterval(() => { rssMax = Math.max(rssMax, rssOf(serverPid)) }, 1000)
    const mark = async (what) => {
      if (what === "start") {
        pr.send({ type: "record", on: true })
        first?.send({ type: "record", on: true })
        for (const c of loads) c.send({ type: "mark" })
        await Promise.all(loads.map((c) => waitMsg(c, "marked")))
        Object.assign(window, { t0: performance.now(), wallStart: performance.timeOrigin + performance.now(), mono0: Number(process.hrtime.bigint() / 1000n), cpu0: cpuOf(serverPid), m0: machineCpu(), th0: threadsCpu(serverPid), load0: os.loadavg()[0] })
      } else {
        pr.send({ type: "record", on: false })
        first?.send({ type: "record", on: false })
        Object.assign(window, { t1: performance.now(), mono1: Number(process.hrtime.bigint() / 1000n), cpu1: cpuOf(serverPid), m1: machineCpu(), rss: rssOf(serverPid), th1: threadsCpu(serverPid), load1: os.loadavg()[0] })
      }
    }
    const driven = await drive(mark)
    clearInterval(sampler)
    for (const c of kids) c.send({ type: "report" })
    const loadReports = await Promise.all(loads.map((c) => waitMsg(c, "report")))
    const probeReport = await waitMsg(pr, "report")
    const firstReport = first === null ? null : await waitMsg(first, "report")
    const secs = (window.t1 - window.t0) / 1000
    const sum = (k) => loadReports.reduce((a, r) => a + r[k], 0)
    const loadCpu = loadReports.reduce((a, r) => a + (r.cpu.user + r.cpu.system) / 1e6, 0)
    const result = {
      label, secs, sockets, probes, driven, probeOut, firstProbe: firstReport, firstProbeOut: first === null ? null : firstOut, wallStart: window.wallStart, monoWindow: [window.mono0, window.mono1],
      serverCores: (window.cpu1 - window.cpu0) / secs,
      serverRssMiB: Math.max(rssMax, window.rss) / 2 ** 20,
      machineBusy: (window.m1.busy - window.m0.busy) / (window.m1.total - window.m0.total),
      loadClosedWhy: loadReports.map((r) => r.closedWhy), loadFrames: sum("frames"), loadBytes: sum("bytes"), loadResyncs: sum("resyncs"), loadClosed: sum("closed"), loadSilent: sum("silent"),
      loadCpuSecs: loadCpu, probe: probeReport, loadAvg: [window.load0, window.load1], probeCpuSecs: (probeReport.cpu.user + probeReport.cpu.system) / 1e6,
      serverThreads: threadsDelta(window.th0, window.th1, secs)
    }
    log(`${label}: ${JSON.stringify({ ...result, probe: undefined, firstProbe: undefined, driven: undefined, serverThreads: undefined })}`)
    log(`${label}: server threads (cores user/sys, runnable-but-waiting s/s): ${result.serverThreads.map((t) => `${t.name} ${t.user}/${t.sys} wait ${t.wait}`).join(", ")}`)
    log(`${label}: probes ${JSON.stringify(probeReport)}`)
    if (firstReport !== null) log(`${label}: first probes ${JSON.stringify(firstReport)}`)
    return result
  } finally {
    for (const c of kids) { try { c.send({ type: "exit" }) } catch { /* gone */ } }
    await new Promise((r) => setTimeout(r, 500))
    for (const c of kids) if (c.exitCode === null) c.kill("SIGKILL")
  }
}
