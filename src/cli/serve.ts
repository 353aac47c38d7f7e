/**
 * `hugespan serve`: a Prometheus exporter of the accounting. Invariant: every family comes from
 * the one vocabulary (metrics.ts) through the same readings as the textfile output
 * (readings.ts); a reading of the kernel costs /proc/meminfo, /proc/vmstat and THP sysfs for the
 * host, and the full accounting only for the processes the user selected (--pid, --comm) — or,
 * with --group-by alone, smaps_rollup of every process, keyed without pid; never a series per pid
 * of the whole host. Scrapes that come within --max-age of a reading share it (single flight),
 * so concurrent scrapers do not multiply the cost. Nothing the scraper or a closed stdout does
 * stops the server: only SIGINT/SIGTERM do.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as zlib from 'node:zlib';
import { collectDefaultMetrics, Registry, OpenMetricsContentType, RegistryContentType } from 'prom-client';
import { processReport } from '../account/report';
import { ProcessError, summarizeProcesses } from '../account/proc';
import { sameHost } from '../native/host';
import { smapsInline } from '../native/smaps';
import { EXIT, UsageError, parseCommandArgs, parseNumber, parsePid } from './ui';
import { CONTENT_TYPE, Format, Sample, Samples, render } from './exposition';
import { GROUP_BY, GroupBy } from './metrics';
import { acceptsGzip, chooseFormat } from './negotiate';
import { ProcessFacts, buildInfo, cgroupSamples, factsOfReport, factsOfSummary, hostSamples, processSamples, readHost } from './readings';

export const usage = `usage: hugespan serve [--listen [HOST]:PORT] [--pid PID[,PID…]] [--comm NAME[,NAME…]]
                      [--group-by comm|exe|cgroup] [--max-age SECONDS]

A Prometheus exporter: GET /metrics answers in OpenMetrics or the text format 0.0.4, whichever
the scraper's Accept header prefers (q-values honoured), gzipped when Accept-Encoding allows it.
Host-wide series always; per-process series (with reasons) only for the selected ones.

  --listen [HOST]:PORT  where to listen (default 127.0.0.1:9464; ':PORT' every address; port 0
                        picks a free one, printed on stdout)
  --pid PID,…           processes to export in full (anonymous bytes by bucket and reason)
  --comm NAME,…         also every process whose comm is one of these (matched per scrape)
  --group-by KEY        series per comm, exe or cgroup instead of per pid (they survive
                        restarts): of the selected processes, or without --pid/--comm of every
                        readable process (smaps_rollup figures); cgroup adds each cgroup's
                        memory.stat THP figures
  --max-age SECONDS     scrapes within this long of a reading share it (default 1; 0: every
                        scrape reads the kernel afresh)`;

export interface Selection {
  pids: number[];
  comms: string[];
  groupBy?: GroupBy;
}

function selected(sel: Selection): number[] {
  const out = new Set(sel.pids);
  if (sel.comms.length) {
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        if (sel.comms.includes(fs.readFileSync(`/proc/${name}/comm`, 'utf8').trim())) out.add(Number(name));
      } catch {
        // gone, or not ours to read: not selected this time
      }
    }
  }
  return [...out].sort((a, b) => a - b);
}

/** A selected process that exited, or is a zombie, when read: expected churn, not an error. */
function gone(e: unknown): boolean {
  return e instanceof ProcessError && (e.code === 'ERR_HUGESPAN_EXITED' || e.code === 'ERR_HUGESPAN_NO_PROCESS' || e.code === 'ERR_HUGESPAN_NO_USER_MEMORY');
}

export interface Reading {
  samples: Sample[];
  /** performance.now() when the reading ended. */
  at: number;
  /** Each format's text, rendered once per reading. */
  rendered: Partial<Record<Format, string>>;
}

/**
 * The exporter's reader: `read()` reads the kernel once and returns the samples, `shared()` the
 * last reading while it is younger than `maxAgeMs`. The scrape counters live across readings.
 */
export function exporter(sel: Selection, maxAgeMs = 0): { read(): Reading; shared(): Reading } {
  let errors = 0;
  let exited = 0;
  let last: Reading | undefined;
  // One reading of the host's THP settings for the whole scrape, shared by every process's
  // report; each smaps read on this thread (many small files: no read-ahead thread to wait on).
  const read = (): Reading => sameHost(() => smapsInline(readNow));
  const readNow = (): Reading => {
    const t0 = performance.now();
    const out = new Samples();
    buildInfo(out);
    hostSamples(readHost(), out);
    const facts: ProcessFacts[] = [];
    if (sel.pids.length || sel.comms.length) {
      for (const pid of selected(sel)) {
        try {
          facts.push(factsOfReport(processReport(pid, { exact: true, seen: true })));
        } catch (e) {
          if (gone(e)) exited++;
          else errors++;
        }
      }
    } else if (sel.groupBy) {
      const { processes, unreadable } = summarizeProcesses();
      facts.push(...processes.map(factsOfSummary));
      out.add('hugespan_unreadable_processes', unreadable);
    }
    const keys = processSamples(facts, out, sel.groupBy);
    if (sel.groupBy === 'cgroup') cgroupSamples(keys, out);
    const t1 = performance.now();
    out.add('hugespan_scrape_duration_seconds', (t1 - t0) / 1000);
    out.add('hugespan_scrape_errors', errors);
    out.add('hugespan_scrape_exited', exited);
    last = { samples: out.list, at: t1, rendered: {} };
    return last;
  };
  return {
    read,
    shared: () => (last && performance.now() - last.at <= maxAgeMs ? last : read()),
  };
}

/** [HOST]:PORT; an empty host (':9464') listens on every address, as node_exporter's flag does. */
export function parseListen(text: string): { host: string | undefined; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]*):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen wants [HOST]:PORT (e.g. 127.0.0.1:9464 or :9464), not '${text}'`);
  return { host: m[1] === '' ? undefined : m[1].replace(/^\[|\]$/g, ''), port };
}

function parseList<T>(text: string | undefined, each: (s: string) => T): T[] {
  return text === undefined ? [] : text.split(',').map((s) => each(s));
}

/**
 * stdout's one line (where the server listens). Written straight to fd 1 and its failure
 * ignored: a reader that went away (`serve | true`, EPIPE) must not end a server that is working.
 */
function say(line: string): void {
  try {
    fs.writeSync(1, line);
  } catch {
    // nobody reads stdout: the server goes on
  }
}

const LANDING = `<!doctype html>
<html><head><meta charset="utf-8"><title>hugespan exporter</title></head>
<body><h1>hugespan exporter</h1>
<p>How this host's memory lands on transparent huge pages.</p>
<p><a href="/metrics">Metrics</a> (OpenMetrics or the text format 0.0.4, as the Accept header asks)</p>
</body></html>
`;

export async function run(argv: string[]): Promise<number> {
  const v = parseCommandArgs(argv, {
    listen: { type: 'string' },
    pid: { type: 'string' },
    comm: { type: 'string' },
    'group-by': { type: 'string' },
    'max-age': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    process.stdout.write(`${usage}\n`);
    return EXIT.ok;
  }
  const { host, port } = parseListen(v.listen ?? '127.0.0.1:9464');
  const groupBy = v['group-by'];
  if (groupBy !== undefined && !(GROUP_BY as readonly string[]).includes(groupBy)) throw new UsageError(`--group-by wants comm, exe or cgroup, not '${groupBy}'`);
  const sel: Selection = { pids: parseList(v.pid, (s) => parsePid(s)), comms: parseList(v.comm, (s) => s), groupBy: groupBy as GroupBy | undefined };
  if (sel.comms.some((c) => !c || c.length > 15)) throw new UsageError('--comm names are 1 to 15 characters (the kernel truncates comm to 15)');
  const maxAge = v['max-age'] === undefined ? 1 : parseNumber(v['max-age'], '--max-age', { min: 0, max: 3600 });
  for (const pid of sel.pids) {
    if (!fs.existsSync(`/proc/${pid}`)) process.stderr.write(`hugespan: warning: no process with pid ${pid} now; serving anyway (its series appear if it starts)\n`);
  }
  const scrape = exporter(sel, maxAge * 1000);
  // prom-client's default collectors (the exporter's own CPU, memory, event loop, GC), one
  // registry per format: a registry's format is its own setting, not a per-call one.
  const defaults: Record<Format, Registry<RegistryContentType>> = { text: new Registry(), openmetrics: new Registry<OpenMetricsContentType>() };
  defaults.openmetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  for (const r of Object.values(defaults)) {
    collectDefaultMetrics({ register: r });
    // Gauges named _total (prom-client's counts of handles, requests, resources): promtool
    // refuses the name; the same counts stay, by type, in nodejs_active_handles etc.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) r.removeSingleMetric(name);
  }

  const body = async (format: Format): Promise<string> => {
    const reading = scrape.shared();
    const ours = (reading.rendered[format] ??= render(reading.samples, format));
    // prom-client's OpenMetrics ends with the one "# EOF".
    return ours + (await defaults[format].metrics());
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : LANDING);
      return;
    }
    if (url.pathname !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('hugespan serves /metrics\n');
      return;
    }
    const format = chooseFormat(req.headers.accept);
    body(format)
      .then((text) => {
        const headers: http.OutgoingHttpHeaders = { 'content-type': CONTENT_TYPE[format], vary: 'Accept, Accept-Encoding' };
        let payload: Buffer | string = text;
        if (acceptsGzip(req.headers['accept-encoding'])) {
          payload = zlib.gzipSync(text);
          headers['content-encoding'] = 'gzip';
        }
        headers['content-length'] = Buffer.byteLength(payload);
        res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : payload);
      })
      .catch((e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e.message}\n`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as { address: string; port: number };
  const shown = address.address.includes(':') ? `[${address.address}]` : address.address;
  say(`hugespan: serving http://${shown}:${address.port}/metrics\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return EXIT.ok;
}
