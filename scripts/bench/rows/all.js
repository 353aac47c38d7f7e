'use strict';
/**
 * Row 14 (issue 12): `report --all --json` (every readable process, from smaps_rollup), the
 * whole command as a user runs it (output piped), against rollups.c: one small C process reading
 * every /proc/<pid>/smaps_rollup into a buffer, nothing parsed — the kernel's part of the work
 * plus the cheapest possible process around it. Both list /proc when they run, so they see the
 * same processes as far as a live system allows (the note gives both counts). `node -e 0` runs
 * in the same rotation, to show how much of the report is node starting. Ratio per run.
 */
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { summary, paired, ratios, compile, fmtNs } = require('../lib');

function timed(cmd, args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
  const ns = Number(process.hrtime.bigint() - t0);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${String(r.stderr).slice(-400)}`);
  return { ns, stdout: r.stdout };
}

module.exports = async function allRow(ctx) {
  const what = '`report --all --json` (whole command, piped)';
  const built = compile('rollups');
  if (built.error) return [{ row: '14', what, unsupported: `cannot build the baseline: ${built.error}` }];
  const args = [path.join(ctx.root, 'dist', 'cli', 'main.js'), 'report', '--all', '--json'];
  const t = await paired(ctx.runs, {
    ours: async () => timed(process.execPath, args).ns,
    c: async () => timed(built.exe, []).ns,
    node: async () => timed(process.execPath, ['-e', '0']).ns,
  }, { slices: 1, warmup: false });
  const report = JSON.parse(timed(process.execPath, args).stdout.toString());
  const c = JSON.parse(timed(built.exe, []).stdout.toString());
  const above = summary(t.ours.map((x, i) => x - t.node[i]));
  return [{
    row: '14',
    what,
    ours: summary(t.ours),
    baseline: { label: 'C: read every /proc/*/smaps_rollup', ...summary(t.c) },
    ratio: summary(ratios(t.ours, t.c)),
    target: '≤ 1.5×',
    limit: { max: 1.5 },
    note:
      `processes read: report ${report.readable} (${report.unreadable} unreadable), C ${c.readable} (${c.unreadable} unreadable, ${c.bytes} bytes of text); ` +
      `node -e 0 takes ${fmtNs(summary(t.node).median)}: the report is ${fmtNs(above.median)} above it (${fmtNs(above.min)}–${fmtNs(above.max)})`,
    dependsOn:
      "the number of processes and their VMAs (smaps_rollup walks every VMA of each process) against node's fixed start-up: " +
      'on a host with few processes, like this VM, node starting is most of the ratio',
    details: { report: { readable: report.readable, unreadable: report.unreadable }, c, aboveNodeNs: above, nodeNs: summary(t.node) },
  }];
};
