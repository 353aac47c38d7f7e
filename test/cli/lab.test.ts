/** `hugespan lab` as a user runs it: both policies on real memory, JSON and text, bad options. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from '../support/child';
import { itExact } from '../support/thp';

const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const lab = (...args: string[]) => spawnSync(process.execPath, [CLI, 'lab', ...args], { encoding: 'utf8', timeout: 120000, env: { ...process.env, NO_COLOR: '1' } });

describe('hugespan lab', () => {
  itExact('--json: coalesce keeps its count true, none does not, on the same workload', () => {
    const r = lab('--ops', '8000', '--arena', '256M', '--seed', '7', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ schema: 2, kind: 'lab', thpUnavailable: null });
    const [coalesce, none] = report.runs;
    expect([coalesce.options.policy, none.options.policy]).toEqual(['coalesce', 'none']);
    expect(coalesce.ops).toEqual(none.ops); // the same workload
    expect(coalesce.heap.freeHugePages).toBeGreaterThan(0);
    // Reads over raw all-huge and all-4 KiB mappings of the in-use size, read in the same run.
    for (const run of report.runs) expect(run.rawReadNs).toEqual({ huge: expect.any(Number), small: expect.any(Number) });
    expect(coalesce.rawReadNs.huge).toBeGreaterThan(0);
    expect(coalesce.verification.free.recount).toBe(coalesce.verification.free.claimed);
    expect(coalesce.verification.countMinusTruth).toBe(0);
    expect(coalesce.verification.free.backed).toBe(coalesce.verification.free.claimed);
    expect(none.verification.countMinusTruth).toBeGreaterThan(0);
    expect(none.collapse.refused.nh).toBeGreaterThan(coalesce.collapse.refused.nh);
    // The policy's only extra cost: MADV_HUGEPAGE calls on merges that made a new huge page.
    expect(coalesce.calls.hugepage).toBeGreaterThan(none.calls.hugepage);
    expect({ ...coalesce.calls, hugepage: 0 }).toEqual({ ...none.calls, hugepage: 0 });
    expect(report.verdict).toBe(
      `coalesce kept its count true (${coalesce.verification.free.claimed} free huge pages counted, ${coalesce.verification.free.backed} backed); ` +
        `none overstated it by ${none.verification.countMinusTruth} (${none.verification.free.claimed} counted, ${none.verification.free.backed} backed).` +
        (none.countOverRun.overEligible > 0
          ? ` Over the run (${none.countOverRun.samples} samples, no collapse pass): none counted frames the kernel may not back at ${none.countOverRun.overEligible} (up to ${none.countOverRun.maxOverEligible}); coalesce never did.`
          : ` Over the run (${none.countOverRun.samples} samples, no collapse pass): no count ever exceeded the frames the kernel may back.`),
    );
    // The seed's question asked at every sample: its policy never counts a frame the kernel may not back.
    expect(coalesce.countOverRun.overEligible).toBe(0);
  });

  itExact('--policy all: five policies side by side, every run measured by the kernel, the goal judged', () => {
    const r = lab('--ops', '3000', '--arena', '128M', '--policy', 'all', '--json');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.runs.map((x: { options: { policy: string } }) => x.options.policy)).toEqual(['none', 'coalesce', 'density', 'filler', 'hpa']);
    for (const x of report.runs) {
      expect(x.verification.free.recount).toBe(x.verification.free.claimed);
      expect(x.inUseHugeShare).toBeGreaterThanOrEqual(0);
      expect(x.adviceLatencyNs.calls).toBeGreaterThan(0);
      expect(x.runtime.gcCycles).toBeGreaterThan(0);
    }
    expect(report.runs[2].calls.nohugepage).toBe(0); // density marks no nh
    expect(report.verdict).toMatch(/Goal (met by \w+|not met; for \w+)/);
  });

  it('--plot: an SVG time series, a line per run and panel; the text shows the share before and after the pass, steady figures, LazyFree, no p99 verdict', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-plot-'));
    const file = path.join(dir, 'lab.svg');
    const r = lab('--ops', '3000', '--arena', '128M', '--policy', 'coalesce,filler,hpa', '--khugepaged', 'none', '--ms-per-op', '2', '--plot', file);
    const svg = fs.readFileSync(file, 'utf8');
    fs.rmSync(dir, { recursive: true });
    expect(r.status).toBe(0);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]*>/);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(4 * 3); // in-use share, RSS, RSS − LazyFree, released; per run
    expect(svg).toContain('2 ms/op, khugepaged none, release default');
    expect(r.stdout).toMatch(/clock {5}2 ms of program time per op; khugepaged none; release default/);
    expect(r.stdout).toMatch(/release advice +free +dontneed +dontneed/);
    expect(r.stdout).toMatch(/in-use on huge pages: end, before pass +\d/);
    expect(r.stdout).toMatch(/ {2}after pass +no pass \(none\)/);
    expect(r.stdout).toMatch(/ {2}steady \(median, 2nd half\) +\d/);
    expect(r.stdout).toMatch(/arena RSS \/ LazyFree \(end\) /);
    expect(r.stdout).toContain('fault-time compaction stalls are not timed');
    expect(r.stdout).toMatch(/Ranking by steady in-use huge share: \w+ [\d.]+% > \w+ [\d.]+% > \w+ [\d.]+%\./);
    expect(r.stdout).not.toMatch(/p99 advice latency/);
  });

  itExact('--go-trace: a real Go program (a shipped trace) on its own clock, checked against the trace at every GC', () => {
    const r = lab('--go-trace', 'traces/flate-encode.spans.gz', '--policy', 'all', '--khugepaged', 'none', '--time-scale', '2');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const gcs = /heap in use = the trace's at (\d+) of (\d+) GC cycles/.exec(r.stdout);
    expect(gcs && gcs[1] === gcs[2] && Number(gcs[1]) > 0).toBe(true);
    expect(r.stdout).toMatch(/^workload  go-trace traces\/flate-encode\.spans\.gz, \d+ events/m);
    expect(r.stdout).toMatch(/^clock     the trace's own ×2 \(\d+\.\d\d s\)/m);
    expect(r.stdout).toMatch(/its spans ×1\.\d\d–\d+\.\d\d the runtime's heapLive/);
    expect(r.stdout).toMatch(/Over the run \(\d+ samples, no collapse pass\)/);
    expect(r.stdout).not.toMatch(/final sweep/);
  });

  it('text: a side-by-side table and the verdict line, no colour when piped', () => {
    const r = lab('--ops', '3000', '--arena', '128M', '--policy', 'coalesce', '--thp', 'host');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^hugespan lab {2}Linux /);
    expect(r.stdout).toMatch(/free huge pages: heap count +\d+/);
    expect(r.stdout).toMatch(/\ncoalesce (kept its count true|overstated|understated)/);
    expect(r.stdout).not.toContain('\x1b[');
  });

  it.each([
    [['--policy', 'sometimes'], "--policy wants a list of none, coalesce, density, filler, hpa (or both, all), not 'sometimes'"],
    [['--policy', 'none,none'], "--policy wants a list of none, coalesce, density, filler, hpa (or both, all), not 'none,none'"],
    [['--heap', 'radix'], "--heap wants a list of treap, pagealloc (or both), not 'radix'"],
    [['--heap', 'pagealloc', '--policy', 'none'], "--policy is the treap heap's: give --heap treap (or both) with it"],
    [['--thp', 'never'], "--thp wants always or host, not 'never'"],
    [['--arena', '1M'], "--arena wants a size from 64M to 64G, not '1M'"],
    [['--ops', '0'], "--ops wants an integer from 1 to 10000000, not '0'"],
    [['--bogus'], "Unknown option '--bogus'"],
    [['--seed', '1', '--seed', '2'], "--seed given twice ('1', then '2'): give it once"],
    [['--workload', 'bursty'], "--workload wants churn, steady, phase, not 'bursty'"],
    [['--trace', 'traces/churn-small.jsonl', '--workload', 'phase'], '--trace replays its own workload: give --trace or --workload, not both'],
    [['--trace', 'traces/churn-small.jsonl', '--ops', '10'], '--trace sets the ops (one per event): leave out --ops'],
    [['--trace', '/nonexistent/t.jsonl'], "--trace cannot read '/nonexistent/t.jsonl': ENOENT"],
    [['--record', '/nonexistent/dir/t.jsonl'], "--record cannot write '/nonexistent/dir/t.jsonl': ENOENT"],
    [['--khugepaged', 'always'], "--khugepaged wants none, pass, model, not 'always'"],
    [['--release', 'purge'], "--release wants free, dontneed, default, not 'purge'"],
    [['--ms-per-op', '0'], "--ms-per-op wants a number from 0.001 to 1000000, not '0'"],
    [['--plot', '/nonexistent/dir/p.svg'], "--plot cannot write '/nonexistent/dir/p.svg': ENOENT"],
    [['--go-trace', 'traces/flate-encode.spans.gz', '--workload', 'phase'], '--go-trace replays its own workload: give one of --go-trace, --trace, --workload'],
    [['--go-trace', 'traces/flate-encode.spans.gz', '--ops', '10'], '--go-trace sets the ops (one per event): leave out --ops'],
    [['--go-trace', 'traces/flate-encode.spans.gz', '--ms-per-op', '2'], "--go-trace runs on the trace's own clock: --time-scale scales it, --ms-per-op does not apply"],
    [['--go-trace', 'traces/flate-encode.spans.gz', '--record', '/tmp/x.jsonl'], "--record writes the lab's JSON Lines trace, which has no clock: not with --go-trace"],
    [['--go-trace', '/nonexistent/t.trace'], "--go-trace cannot read '/nonexistent/t.trace': ENOENT"],
    [['--go-trace', 'traces/churn-small.jsonl'], '--go-trace traces/churn-small.jsonl:1: not a hugespan go spans file (it starts "# hugespan go spans 1")'],
    [['--go-trace', 'package.json'], '--go-trace package.json:1: not a hugespan go spans file (it starts "# hugespan go spans 1")'],
    [['--time-scale', '10'], "--time-scale scales a --go-trace's clock: give --go-trace with it"],
    [['--go-trace', 'traces/flate-encode.spans.gz', '--time-scale', '0'], "--time-scale wants a number from 0.001 to 1000, not '0'"],
  ])('%j is a usage error (exit 2)', (args, message) => {
    const r = lab(...args);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`hugespan: ${message}\nTry 'hugespan lab --help'.\n`);
  });

  it('a bad trace line is a usage error naming line and field, before any run (no progress bar, no output)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-trace-'));
    const file = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(file, '{"op":"alloc","id":1,"pages":2}\n{"op":"gc"}\n{"op":"alloc","id":2,"pages":-1}\n');
    const r = lab('--trace', file, '--policy', 'all');
    fs.rmSync(dir, { recursive: true });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`hugespan: --trace ${file}:3: field 'pages': wants an integer from 1 to 1048576, not -1\nTry 'hugespan lab --help'.\n`);
  });

  it('--record then --trace: the replay is the same run (steady workload)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-trace-'));
    const file = path.join(dir, 'steady.jsonl');
    const a = lab('--workload', 'steady', '--ops', '2000', '--arena', '64M', '--policy', 'coalesce', '--record', file, '--json');
    const b = lab('--trace', file, '--arena', '64M', '--policy', 'coalesce', '--json');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    fs.rmSync(dir, { recursive: true });
    expect([a.status, b.status]).toEqual([0, 0]);
    expect(lines).toHaveLength(2001); // one event a line, and the last newline
    const [ra, rb] = [JSON.parse(a.stdout).runs[0], JSON.parse(b.stdout).runs[0]];
    expect(ra.options).toMatchObject({ workload: 'steady', ops: 2000 });
    expect(rb.options).toMatchObject({ workload: 'trace', trace: file, ops: 2000 });
    expect([rb.ops, rb.heap, rb.calls, rb.runtime]).toEqual([ra.ops, ra.heap, ra.calls, ra.runtime]);
    expect(rb.verification.free.recount).toBe(rb.verification.free.claimed);
  });
});
