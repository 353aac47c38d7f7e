'use strict';
/**
 * Rows 10, 11, 13 and 15 (issue 12): whole commands as a user runs them (a fresh node process,
 * output into a pipe) on targets with many VMAs made by vmas.c (1 000, 10 000 and 60 000 VMAs,
 * alive together so every side runs in every run; only the targets the selected rows need).
 * Row 10: `report --pid P --json` on 60 000 VMAs against `cat /proc/P/smaps` of the same target
 * (what the kernel costs to print the text the report must read), and its peak RSS
 * (/usr/bin/time %M) against the size of that text. Row 11: on 1 000 VMAs, against `node -e 0`.
 * Row 13: the per-VMA cost above `node -e 0` at each count, and whether the marginal cost per VMA
 * grows from 10^3→10^4 to 10^4→6·10^4. Row 15: `map --pid P` (its default --min-size) against
 * `report --pid P --json` on the 10 000-VMA target. Sides alternate within each run, one slice
 * each (a 60 000-VMA report takes seconds), and every ratio is per run.
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { summary, paired, ratios, compile, spreadFlags } = require('../lib');

/** Start vmas.c with `n` VMAs; resolves { pid, stop } once it says it is ready. */
async function target(exe, n) {
  const child = spawn(exe, [String(n)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`vmas ${n} exited (${code}) before it was ready`)));
  });
  const msg = JSON.parse(line);
  if (msg.error) throw new Error(`vmas ${n}: ${msg.error}`);
  // stop: EOF ends the target; should it hang, a kill (the timer does not hold the bench open).
  const stop = () => {
    child.stdin.end();
    const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
    kill.unref();
    child.once('exit', () => clearTimeout(kill));
  };
  return { pid: msg.pid, stop };
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

const us = (ns) => `${(ns / 1e3).toFixed(1)} µs`;

module.exports = async function reportRows(ctx) {
  const built = compile('vmas');
  const main = path.join(ctx.root, 'dist', 'cli', 'main.js');
  const want = (id) => !ctx.only || ctx.only.has(id);
  const ids = ['10', '11', '13', '15'].filter(want);
  if (built.error) return ids.map((row) => ({ row, what: '`report --pid --json`', unsupported: `cannot build the target: ${built.error}` }));
  const report = (pid) => [main, 'report', '--pid', String(pid), '--json'];
  const map = (pid) => [main, 'map', '--pid', String(pid)];

  // The targets each row needs, all alive at once so every side runs in every run.
  const need = { 1000: want('11') || want('13'), 10000: want('13') || want('15'), 60000: want('10') || want('13') };
  const targets = {};
  try {
    for (const n of [1000, 10000, 60000]) if (need[n]) targets[n] = await target(built.exe, n);
    const smaps = Object.fromEntries(Object.entries(targets).map(([n, t]) => [n, timed('cat', [`/proc/${t.pid}/smaps`]).stdout.length]));
    const sides = {};
    if (need[1000]) sides.node = async () => timed(process.execPath, ['-e', '0']).ns;
    for (const n of [1000, 10000, 60000]) if (need[n]) sides[`r${n}`] = async () => timed(process.execPath, report(targets[n].pid)).ns;
    // Row 10's peak RSS comes from its timed runs: through /usr/bin/time, which adds one small
    // fork+exec (about a millisecond) to seconds of report.
    const rss60 = [];
    if (want('10') && TIME) {
      sides.r60000 = async () => {
        const x = timed(TIME, ['-f', '%M', process.execPath, ...report(targets[60000].pid)]);
        rss60.push(Number(x.stderr.trim().split('\n').pop()) * 1024);
        return x.ns;
      };
    }
    if (want('15')) sides.map = async () => timed(process.execPath, map(targets[10000].pid)).ns;
    if (want('10')) sides.cat = async () => timed('cat', [`/proc/${targets[60000].pid}/smaps`]).ns;
    // One slice per side per run (a 60 000-VMA report takes seconds); every side is a fresh
    // process, so no warm-up run.
    const r = await paired(ctx.runs, sides, { slices: 1, warmup: false });
    const rows = [];

    if (want('10')) {
      const n = 60000;
      const rss = rss60.length ? summary(rss60).max : undefined;
      const ratio = summary(ratios(r.r60000, r.cat));
      const rssOk = rss === undefined || rss <= 2 * smaps[n];
      rows.push({
        row: '10', what: `\`report --pid --json\`, ${n} VMAs (whole command, piped)`,
        ours: summary(r.r60000), baseline: { label: '`cat /proc/P/smaps`', ...summary(r.cat) }, ratio,
        target: '≤ 3×; peak RSS ≤ 2× the text', limit: { max: 3 },
        verdict: ratio.median <= 3 && rssOk ? 'pass' : `MISS${ratio.median <= 3 ? ' (RSS)' : rssOk ? '' : ' (time, RSS)'}`,
        note: `smaps text ${(smaps[n] / 2 ** 20).toFixed(1)} MiB; peak RSS ${rss ? `${(rss / 2 ** 20).toFixed(0)} MiB = ${(rss / smaps[n]).toFixed(1)}× the text (the largest of the timed runs)` : 'not measured (no /usr/bin/time)'}; ${us(summary(r.r60000).median / n)} per VMA (whole command)`,
        dependsOn: "the kernel's smaps text generation per VMA (all of cat's time) against node's start and the report's per-VMA work (parse, hand-over, objects, JSON): cheap text generation or a slow CPU raise the ratio",
        details: { vmas: n, smapsBytes: smaps[n], peakRss: rss, peakRssRuns: rss60 },
      });
    }
    if (want('11')) {
      const n = 1000;
      const above = summary(r.r1000.map((x, i) => x - r.node[i]));
      rows.push({
        row: '11', what: `\`report --pid --json\`, ${n} VMAs (whole command, piped)`,
        ours: summary(r.r1000), baseline: { label: '`node -e 0`', ...summary(r.node) }, ratio: summary(ratios(r.r1000, r.node)),
        target: '≤ 40 ms above `node -e 0`', limit: { max: 40e6, on: above },
        note: `above node -e 0: ${(above.median / 1e6).toFixed(0)} ms (${(above.min / 1e6).toFixed(0)}–${(above.max / 1e6).toFixed(0)}), judged per run; smaps text ${(smaps[n] / 1024).toFixed(0)} KiB`,
        dependsOn: "node's start-up and the cold JIT of loading and running the report (CPU speed, page faults of loading code), far more than the kernel: the 1 000 VMAs' text is a few ms",
        details: { vmas: n, smapsBytes: smaps[n], aboveNodeNs: above },
      });
    }
    if (want('13')) {
      // Per VMA above `node -e 0`, per run: (report − node) / N. A fixed cost (loading the CLI,
      // the process's status) is spread over N, so this falls with N even at a constant per-VMA
      // cost; what would show growth is the marginal cost between counts, judged per run.
      const per = (n) => r[`r${n}`].map((x, i) => (x - r.node[i]) / n);
      for (const n of [1000, 10000, 60000]) {
        rows.push({
          row: '13', what: `\`report --pid --json\` per VMA above \`node -e 0\`, ${n} VMAs`,
          ours: summary(per(n)), baseline: { label: '`node -e 0`', ...summary(r.node) },
          target: 'report',
          details: { vmas: n, smapsBytes: smaps[n], reportNs: summary(r[`r${n}`]) },
        });
      }
      const lo = r.r10000.map((x, i) => (x - r.r1000[i]) / 9000);
      const hi = r.r60000.map((x, i) => (x - r.r10000[i]) / 50000);
      const growth = summary(ratios(hi, lo));
      const grows = growth.median > 1.25;
      const unsure = spreadFlags(growth, { max: 1.25 });
      rows.push({
        row: '13', what: 'marginal cost per VMA, 10 000→60 000 vs 1 000→10 000',
        ours: summary(hi), baseline: { label: '1 000→10 000', ...summary(lo) }, ratio: growth,
        target: '≤ 1.25× (does not grow)', limit: { max: 1.25 },
        note:
          `per VMA above node -e 0: ${[1000, 10000, 60000].map((n) => `${n}: ${us(summary(per(n)).median)}`).join(', ')}; ` +
          `the per-VMA cost ${grows ? 'GROWS' : 'does not grow'} with the count${unsure.length ? ` by the median, but this run cannot tell (${unsure.join(', ')})` : ''}: each VMA from 10 000 to 60 000 costs ${us(summary(hi).median)}, ` +
          `from 1 000 to 10 000 ${us(summary(lo).median)} (${growth.median.toFixed(2)}×, per run ${growth.min.toFixed(2)}–${growth.max.toFixed(2)})`,
        dependsOn: "the CPU's speed at the per-VMA work and the kernel's text generation per VMA; growth would come from the report itself (GC of a large heap, a superlinear step), not from the machine",
        details: { loPerVmaNs: lo, hiPerVmaNs: hi },
      });
    }
    if (want('15')) {
      const n = 10000;
      const out = timed(process.execPath, map(targets[n].pid)).stdout.toString();
      const drawn = /no anonymous VMA of/.test(out) ? 'draws no VMA (the target\'s one-page VMAs are below the default --min-size 4M; it still reads and filters all of them)' : `prints ${out.split('\n').length} lines`;
      rows.push({
        row: '15', what: `\`map --pid\` (default --min-size), ${n} VMAs vs \`report --pid --json\``,
        ours: summary(r.map), baseline: { label: '`report --pid P --json`, same target', ...summary(r.r10000) }, ratio: summary(ratios(r.map, r.r10000)),
        target: '≤ 2×', limit: { max: 2 },
        note: `map, as a user runs it (output piped), ${drawn}`,
        dependsOn: "both read the same smaps text and start node alike: the ratio is map's drawing against report's per-VMA objects and JSON, so the CPU's speed per VMA (not the kernel) moves it",
        details: { vmas: n, smapsBytes: smaps[n] },
      });
    }
    return rows;
  } finally {
    for (const t of Object.values(targets)) t.stop();
  }
};
