'use strict';
/**
 * Rows 10 and 11 (issue 12): the whole `hugespan report --pid P --json` command, as a user runs
 * it (a fresh node process, output into a pipe), on a target with many VMAs made by vmas.c.
 * Row 10: 60 000 VMAs against `cat /proc/P/smaps` of the same target (what the kernel costs to
 * print the text the report must read); row 11: 1 000 VMAs against `node -e 0` (what starting
 * node costs). Sides alternate within each run, one slice each (a 60 000-VMA report takes
 * seconds), and the ratio is per run. Peak RSS of the report (getrusage of the child, through
 * /usr/bin/time where it exists) is set against the size of the smaps text.
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { summary, paired, ratios, compile } = require('../lib');

/** Start vmas.c with `n` VMAs; resolves { pid, stop } once it says it is ready. */
async function target(exe, n) {
  const child = spawn(exe, [String(n)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`vmas ${n} exited (${code}) before it was ready`)));
  });
  const msg = JSON.parse(line);
  if (msg.error) throw new Error(`vmas ${n}: ${msg.error}`);
  return { pid: msg.pid, stop: () => child.stdin.end() };
}

/** Wall time in ns of one run of a command, its stdout discarded (read, as a pipe reader would). */
function timed(cmd, args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 30 });
  const ns = Number(process.hrtime.bigint() - t0);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${String(r.stderr).slice(-400)}`);
  return { ns, stdout: r.stdout, stderr: String(r.stderr) };
}

const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

/** Peak RSS in bytes of one run of the report, or undefined without /usr/bin/time. */
function peakRss(args) {
  if (!TIME) return undefined;
  const r = timed(TIME, ['-f', '%M', process.execPath, ...args]);
  return Number(r.stderr.trim().split('\n').pop()) * 1024;
}

module.exports = async function reportRows(ctx) {
  const built = compile('vmas');
  const main = path.join(ctx.root, 'dist', 'cli', 'main.js');
  const rows = [];
  if (built.error) return ['10', '11'].map((row) => ({ row, what: '`report --pid --json`', unsupported: `cannot build the target: ${built.error}` }));
  const report = (pid) => [main, 'report', '--pid', String(pid), '--json'];

  for (const [row, n, base] of [['10', 60000, 'cat'], ['11', 1000, 'node']]) {
    const t = await target(built.exe, n);
    try {
      const smaps = timed('cat', [`/proc/${t.pid}/smaps`]).stdout.length;
      const sides = {
        ours: async () => timed(process.execPath, report(t.pid)).ns,
        base: async () => (base === 'cat' ? timed('cat', [`/proc/${t.pid}/smaps`]) : timed(process.execPath, ['-e', '0'])).ns,
      };
      const r = await paired(ctx.runs, sides, { slices: 1 });
      const rss = peakRss(report(t.pid));
      const ours = summary(r.ours);
      const baseline = summary(r.base);
      const perVma = (ours.median - (base === 'node' ? baseline.median : 0)) / n;
      if (base === 'cat') {
        rows.push({
          row, what: `\`report --pid --json\`, ${n} VMAs (whole command, piped)`,
          ours, baseline: { label: '`cat /proc/P/smaps`', ...baseline }, ratio: summary(ratios(r.ours, r.base)),
          target: '≤ 3×; peak RSS ≤ 2× the text', check: (x) => x <= 3,
          note: `smaps text ${(smaps / 2 ** 20).toFixed(1)} MiB; peak RSS ${rss ? `${(rss / 2 ** 20).toFixed(0)} MiB = ${(rss / smaps).toFixed(1)}× the text` : 'not measured (no /usr/bin/time)'}; ${(perVma / 1e3).toFixed(1)} µs per VMA`,
          details: { vmas: n, smapsBytes: smaps, peakRss: rss },
        });
      } else {
        const above = summary(r.ours.map((x, i) => x - r.base[i]));
        rows.push({
          row, what: `\`report --pid --json\`, ${n} VMAs (whole command, piped)`,
          ours, baseline: { label: '`node -e 0`', ...baseline }, ratio: summary(ratios(r.ours, r.base)),
          target: '≤ 40 ms above `node -e 0`', verdict: above.median <= 40e6 ? 'pass' : 'MISS',
          note: `above node -e 0: ${(above.median / 1e6).toFixed(0)} ms (${(above.min / 1e6).toFixed(0)}–${(above.max / 1e6).toFixed(0)}); ${(perVma / 1e3).toFixed(1)} µs per VMA; smaps text ${(smaps / 1024).toFixed(0)} KiB`,
          details: { vmas: n, smapsBytes: smaps, aboveNodeNs: above },
        });
      }
    } finally {
      t.stop();
    }
  }
  return rows;
};
