/**
 * `hugespan serve`: a Prometheus exporter of the accounting, on prom-client.
 * Invariant: every scrape reads the kernel afresh, at a bounded cost: /proc/meminfo and
 * /proc/vmstat for the host, and the full accounting only for the processes the user selected
 * (--pid, --comm); never a series per pid of the whole host. Label sets are bounded: reasons
 * come from the fixed vocabulary, events from the kernel's own thp_* counter names. Names
 * follow Prometheus' rules: base units (_bytes), ratios 0..1 (_ratio), counters _total.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import { Counter, Gauge, Registry, OpenMetricsContentType, RegistryContentType } from 'prom-client';
import { processReport } from '../account/report';
import { readMeminfo, readThpCounters } from '../account/proc';
import { REASONS } from '../account/reasons';
import { EXIT, UsageError, parseCommandArgs, parsePid } from './ui';

export const usage = `usage: hugespan serve [--listen HOST:PORT] [--pid PID[,PID…]] [--comm NAME[,NAME…]]

A Prometheus exporter: GET /metrics answers in OpenMetrics or the text format 0.0.4,
whichever the scraper's Accept header asks for, reading the kernel on every scrape.
Host-wide series always; per-process series (with reasons) only for the selected ones.

  --listen HOST:PORT   where to listen (default 127.0.0.1:9464; port 0 picks a free one,
                       printed on stdout)
  --pid PID,…          processes to export in full (anonymous bytes by bucket and reason)
  --comm NAME,…        also every process whose comm is one of these (matched per scrape)`;

interface Selection {
  pids: number[];
  comms: string[];
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

/** The exporter's metrics on two registries (one per exposition format), filled on each scrape. */
export function exporter(sel: Selection): { openmetrics: Registry<OpenMetricsContentType>; text: Registry } {
  const openmetrics = new Registry<OpenMetricsContentType>();
  openmetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const text = new Registry();
  const registers = [openmetrics, text] as Registry<RegistryContentType>[];
  const g = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers });

  // The first family registered reads the kernel for all of them: prom-client gets families
  // one by one in registration order on each scrape, awaiting each collect().
  const anon = new Gauge({ name: 'hugespan_anonymous_bytes', help: 'Anonymous memory of the host (/proc/meminfo AnonPages).', registers, collect: () => read() });
  const anonHuge = g('hugespan_anon_huge_pages_bytes', 'Of it, on PMD-mapped transparent huge pages (/proc/meminfo AnonHugePages).');
  const ratio = g('hugespan_anon_huge_pages_ratio', 'AnonHugePages / AnonPages, 0..1.');
  const otherHuge = g('hugespan_other_huge_pages_bytes', 'Huge pages that are not anonymous THP (/proc/meminfo ShmemPmdMapped, FilePmdMapped).', ['kind']);
  const events = new Counter({ name: 'hugespan_thp_events', help: 'The kernel\'s thp_* event counters (/proc/vmstat), by name without "thp_".', labelNames: ['event'], registers });
  const pAnon = g('hugespan_process_anonymous_bytes', 'A selected process\'s anonymous memory (smaps Anonymous).', ['pid', 'comm']);
  const pPmd = g('hugespan_process_pmd_mapped_bytes', 'Of it, on PMD-mapped huge pages (smaps AnonHugePages).', ['pid', 'comm']);
  const pPte = g('hugespan_process_pte_mapped_thp_bytes', 'Of it, in THPs mapped by PTEs (kpageflags; absent when not visible without root).', ['pid', 'comm']);
  const pSmall = g('hugespan_process_small_bytes', 'Of it, on small pages, by the first reason that applies (hugespan why).', ['pid', 'comm', 'reason']);
  const pRatio = g('hugespan_process_coverage_ratio', 'PMD-mapped / anonymous of a selected process, 0..1.', ['pid', 'comm']);
  const errors = new Counter({ name: 'hugespan_scrape_errors', help: 'Selected processes that could not be read on a scrape (exited, not permitted).', registers });
  const duration = g('hugespan_scrape_duration_seconds', 'How long the last scrape took to read the kernel.');

  function read(): void {
    const t0 = process.hrtime.bigint();
    const m = readMeminfo();
    anon.set(m.AnonPages ?? 0);
    anonHuge.set(m.AnonHugePages ?? 0);
    ratio.set(m.AnonPages ? Math.min(1, (m.AnonHugePages ?? 0) / m.AnonPages) : 0);
    otherHuge.set({ kind: 'shmem' }, m.ShmemPmdMapped ?? 0);
    otherHuge.set({ kind: 'file' }, m.FilePmdMapped ?? 0);
    events.reset();
    for (const [k, v] of Object.entries(readThpCounters())) events.inc({ event: k.slice(4) }, v);
    for (const gauge of [pAnon, pPmd, pPte, pSmall, pRatio]) gauge.reset();
    for (const pid of selected(sel)) {
      try {
        const r = processReport(pid, { exact: true });
        const a = r.totals.account;
        const labels = { pid: String(pid), comm: r.comm };
        pAnon.set(labels, a.anonymous);
        pPmd.set(labels, a.pmdMapped);
        if (a.pteMappedThp !== null) pPte.set(labels, a.pteMappedThp);
        pRatio.set(labels, a.anonymous ? a.pmdMapped / a.anonymous : 0);
        for (const { code } of REASONS) pSmall.set({ ...labels, reason: code }, a.reasons[code] ?? 0);
      } catch {
        errors.inc();
      }
    }
    duration.set(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return { openmetrics, text };
}

function parseListen(text: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen wants HOST:PORT (e.g. 127.0.0.1:9464), not '${text}'`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

function parseList<T>(text: string | undefined, each: (s: string) => T): T[] {
  return text === undefined ? [] : text.split(',').map((s) => each(s));
}

export async function run(argv: string[]): Promise<number> {
  const v = parseCommandArgs(argv, { listen: { type: 'string' }, pid: { type: 'string' }, comm: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (v.help) {
    process.stdout.write(`${usage}\n`);
    return EXIT.ok;
  }
  const { host, port } = parseListen(v.listen ?? '127.0.0.1:9464');
  const sel = { pids: parseList(v.pid, (s) => parsePid(s)), comms: parseList(v.comm, (s) => s) };
  if (sel.comms.some((c) => !c || c.length > 15)) throw new UsageError('--comm names are 1 to 15 characters (the kernel truncates comm to 15)');
  const { openmetrics, text } = exporter(sel);

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url.pathname !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('hugespan serves /metrics\n');
      return;
    }
    const om = /application\/openmetrics-text/.test(req.headers.accept ?? '');
    const registry: Registry<RegistryContentType> = om ? openmetrics : text;
    registry
      .metrics()
      .then((body) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : body))
      .catch((e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e.message}\n`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as { address: string; port: number };
  const shown = address.address.includes(':') ? `[${address.address}]` : address.address;
  process.stdout.write(`hugespan: serving http://${shown}:${address.port}/metrics\n`);
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
