'use strict';
/**
 * Rows 16 and 17 (issue 17 item 7): what a Prometheus scrape of `hugespan serve` costs. N target
 * processes (vmas.c, 20 VMAs each: 200, or 50 with --quick) are selected with `--comm vmas`.
 * Row 16: one scrape (HTTP GET /metrics, text format, the whole response read) of a server with
 * --max-age 0, so each one reads the kernel, against scrape_read.c reading the same files in C
 * and making the same PAGEMAP_SCAN walk per process (a fresh process each time, as the scrape is
 * a fresh reading; it leaves out serve's kpageflags reads as root). Row 17: the server's CPU time
 * (every thread's schedstat) for 4 concurrent scrapes against 1, with the default --max-age 1:
 * overlapping scrapes share one reading. Each run waits past the max-age first (not timed), so
 * both sides start from no reading.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const readline = require('node:readline');
const { summary, paired, ratios, compile, fmtNs } = require('../lib');

const VMAS = 20;

/** N vmas targets; resolves with a stop() that ends them all. */
async function targets(exe, n) {
  const children = [];
  const stop = () => {
    for (const c of children) c.stdin.end();
    for (const c of children) setTimeout(() => c.kill('SIGKILL'), 2000).unref();
  };
  try {
    for (let i = 0; i < n; i++) {
      const child = spawn(exe, [String(VMAS)], { stdio: ['pipe', 'pipe', 'inherit'] });
      children.push(child);
      const line = await new Promise((resolve, reject) => {
        readline.createInterface({ input: child.stdout }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`vmas exited (${code}) before it was ready`)));
      });
      if (JSON.parse(line).error) throw new Error(`vmas: ${line}`);
    }
  } catch (e) {
    stop();
    throw e;
  }
  return { pids: children.map((c) => c.pid), stop };
}

/** `serve` with these options on a free loopback port: { base, pid, stop }. */
async function serve(main, args) {
  const child = spawn(process.execPath, [main, 'serve', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const base = await new Promise((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`serve exited (${code})`)));
    child.stdout.on('data', (d) => {
      out += d;
      const m = /serving (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(out);
      if (m) resolve(m[1]);
    });
  });
  const stop = () =>
    new Promise((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
  return { base, pid: child.pid, stop };
}

/** One GET, its body read whole; resolves with the body's length. */
function scrape(base) {
  return new Promise((resolve, reject) => {
    http
      .get(`${base}/metrics`, { agent: false }, (res) => {
        let n = 0;
        res.on('data', (c) => (n += c.length));
        res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`HTTP ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

/** CPU time in ns of every thread of `pid` so far (schedstat: time on a CPU). */
function cpuNs(pid) {
  let ns = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // a thread that ended meanwhile
    }
  }
  return ns;
}

function timedRun(exe, args) {
  const { spawnSync } = require('node:child_process');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(exe, args, { encoding: 'utf8' });
  const ns = Number(process.hrtime.bigint() - t0);
  if (r.status !== 0) throw new Error(`${exe} exited ${r.status}`);
  return { ns, out: JSON.parse(r.stdout) };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = async function scrapeRows(ctx) {
  const n = ctx.quick ? 50 : 200;
  const want = (id) => !ctx.only || ctx.only.has(id);
  const vmas = compile('vmas');
  const base = compile('scrape_read');
  const broken = vmas.error || base.error;
  if (broken) return ['16', '17'].filter(want).map((row) => ({ row, what: 'a scrape of `serve`', unsupported: `cannot build: ${broken}` }));
  const main = path.join(ctx.root, 'dist', 'cli', 'main.js');
  const t = await targets(vmas.exe, n);
  const servers = [];
  try {
    const rows = [];
    const fresh = await serve(main, ['--comm', 'vmas', '--max-age', '0']);
    servers.push(fresh);
    await scrape(fresh.base);
    const c = timedRun(base.exe, ['vmas']).out;
    if (want('16')) {
      const r = await paired(ctx.runs, {
        scrape: async () => {
          const t0 = process.hrtime.bigint();
          await scrape(fresh.base);
          return Number(process.hrtime.bigint() - t0);
        },
        c: async () => timedRun(base.exe, ['vmas']).ns,
      });
      const size = await scrape(fresh.base);
      const ratio = summary(ratios(r.scrape, r.c));
      rows.push({
        row: '16',
        what: `a scrape of \`serve --comm vmas\`, ${n} processes × ${VMAS} VMAs (HTTP, text format)`,
        ours: summary(r.scrape),
        baseline: { label: 'C: the same files read, the same walks', ...summary(r.c) },
        ratio,
        target: '≤ 2×',
        limit: { max: 2 },
        note:
          `C read ${c.files} files, ${(c.bytes / 2 ** 20).toFixed(1)} MiB, and made ${c.walks} PAGEMAP_SCAN walks, of ${c.selected} selected processes; the scrape answers ${(size / 1024).toFixed(0)} KiB ` +
          `and, as root, also reads kpageflags for the PFNs of small runs, which the C side does not; ${fmtNs(summary(r.scrape).median / n)} per process`,
        dependsOn: "the kernel's smaps text generation (most of the C side) against the accounting per VMA and the pagemap walk per process: few VMAs per process make the fixed per-process work weigh more",
        details: { processes: n, vmasEach: VMAS, c, bodyBytes: size },
      });
    }
    if (want('17')) {
      const shared = await serve(main, ['--comm', 'vmas']);
      servers.push(shared);
      await scrape(shared.base);
      const walls = [];
      const cpu = (k) => async () => {
        await sleep(1100); // past --max-age 1: no reading to share from before
        const before = cpuNs(shared.pid);
        const t0 = process.hrtime.bigint();
        await Promise.all(Array.from({ length: k }, () => scrape(shared.base)));
        if (k > 1) walls.push(Number(process.hrtime.bigint() - t0));
        await sleep(50); // the server's last writes accounted
        return cpuNs(shared.pid) - before;
      };
      const r = await paired(ctx.runs, { four: cpu(4), one: cpu(1) }, { slices: 1 });
      rows.push({
        row: '17',
        what: `4 concurrent scrapes vs 1, ${n} processes: the server's CPU time`,
        ours: summary(r.four),
        baseline: { label: '1 scrape', ...summary(r.one) },
        ratio: summary(ratios(r.four, r.one)),
        target: '≤ 1.3×',
        limit: { max: 1.3 },
        note: `the 4 answered together in ${fmtNs(summary(walls).median)} (wall, median); without sharing each would read the kernel again (row 16's cost, ×4)`,
        dependsOn: 'how the rendering and gzip-free HTTP answers of the 3 sharing scrapes weigh against one reading of the kernel: more selected processes make the ratio smaller',
        details: { processes: n, wallNs: walls },
      });
    }
    return rows;
  } finally {
    for (const s of servers) await s.stop();
    t.stop();
  }
};
