'use strict';
/**
 * The bench's tools: statistics over repeated runs, alternating timed sides, the C baselines
 * (compiled at bench time with the system compiler, driven over a line protocol), the
 * machine description and the table. Nothing here knows about a particular row.
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const ROOT = path.resolve(__dirname, '..', '..');
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

// ---- statistics ----------------------------------------------------------------------

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (i - lo);
}

/** Median and spread of one measurement's runs. */
function summary(values) {
  const s = [...values].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), min: s[0], max: s[s.length - 1], q1: quantile(s, 0.25), q3: quantile(s, 0.75), runs: values.slice() };
}

// ---- clock and GC --------------------------------------------------------------------

/** A full GC before a timed run, when node was started with --expose-gc. */
function settle() {
  if (typeof global.gc === 'function') global.gc();
}

/**
 * Let the process go quiet before a row: a full GC, then a pause so V8's concurrent sweeper and
 * compiler threads finish. A thread of this process running on another CPU makes every
 * VMA-changing syscall here slower (madvise hg/nh about 2× on this host), so rows must not
 * inherit the previous row's garbage.
 */
async function quiesce(ms = 300) {
  settle();
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** ns per call of fn() over n calls. */
function perCall(n, fn) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  return Number(process.hrtime.bigint() - t0) / n;
}

/**
 * Measure several sides in alternation: `runs` recorded runs after one warm-up (none with
 * `warmup: false`, for sides that are whole fresh processes); within a run each
 * side is measured `slices` times, interleaved with the others, and the run keeps each side's
 * fastest slice (the one least disturbed by other work on the machine — both sides alike).
 * A full GC before each slice only when `gc` is set: a forced GC makes V8 hand pages back, and
 * the next allocations then pay page faults that steady-state code does not.
 * `rotate` changes which side goes first in each run (for sides that leave state behind them,
 * e.g. freed memory the next side's page faults must find).
 * sides: { name: async () => ns per call }. Returns { name: [ns per call, one per run] }.
 */
async function paired(runs, sides, { slices = 3, gc = false, rotate = false, warmup = true, deadline = budget.deadline(), minRuns = budget.minRuns } = {}) {
  const names = Object.keys(sides);
  const out = Object.fromEntries(names.map((n) => [n, []]));
  const started = performance.now();
  for (let run = warmup ? -1 : 0; run < runs; run++) {
    // The time budget: once `minRuns` are recorded (`run` of them here), stop when one more run,
    // at the mean pace so far (the warm-up included), would end after the deadline.
    if (run >= Math.min(minRuns, runs) && !budget.affords(deadline, (performance.now() - started) / (run + (warmup ? 1 : 0)))) break;
    const best = Object.fromEntries(names.map((n) => [n, Infinity]));
    // rotate: each run starts with the next side, so no side always follows the same one.
    const order = rotate ? names.map((_, i) => names[(i + run + 1) % names.length]) : names;
    for (let s = 0; s < slices; s++) {
      for (const n of order) {
        if (gc) settle();
        best[n] = Math.min(best[n], await sides[n]());
      }
    }
    if (run >= 0) for (const n of names) out[n].push(best[n]);
  }
  return out;
}

/**
 * The time budget of the bench (`--budget`, `--quick`): run.js gives each group of rows a
 * deadline (its share of what is left of the whole budget); `paired` and the rows' own loops
 * over seeds stop early — never below `minRuns` recorded runs — when the next run would end
 * after it. `deadline(share)`: a deadline for a part of a row, `share` of the group's time left.
 */
const budget = {
  groupDeadline: Infinity,
  minRuns: 3,
  deadline(share = 1) {
    if (!Number.isFinite(this.groupDeadline)) return Infinity;
    const now = performance.now();
    return now + Math.max(0, this.groupDeadline - now) * share;
  },
  /** Whether a step of `stepMs` started now still ends before `deadline`. */
  affords(deadline, stepMs) {
    return performance.now() + stepMs <= deadline;
  },
};

/** The 1-minute load average now (a number), from /proc/loadavg. */
function load1() {
  try {
    return Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return NaN;
  }
}

/**
 * Whether a row's spread makes its verdict meaningless. The rule (printed under the table):
 * - unsettled: the target lies inside the per-run min–max of the judged quantity (some runs
 *   pass, some miss), so the median's side of the target is an accident of this run;
 * - noisy: max/min of the judged runs is above WIDE (1.5: one run took 50 % longer than another
 *   on the same work), so the machine moved more than the effect being judged.
 * `limit`: { max } or { min } on `on` (a summary; the ratio's by default).
 */
const WIDE = 1.5;
function spreadFlags(dist, limit) {
  if (!dist || !Number.isFinite(dist.min)) return [];
  const flags = [];
  if (limit) {
    if (limit.max !== undefined && dist.min <= limit.max && dist.max > limit.max) flags.push('unsettled');
    if (limit.min !== undefined && dist.min < limit.min && dist.max >= limit.min) flags.push('unsettled');
  }
  if (dist.min > 0 && dist.max / dist.min > WIDE) flags.push('noisy');
  return flags;
}

/** Per-run ratios a[i] / b[i]. */
function ratios(a, b) {
  return a.map((x, i) => x / b[i]);
}

// ---- C baselines ---------------------------------------------------------------------

const BIN_DIR = path.join(ROOT, 'build', 'bench');

/**
 * Compile scripts/bench/<name>.c (or .cc) with the system compiler into build/bench.
 * Returns the executable, or { error } saying why it cannot run here.
 */
function compile(name, { cxx = false, sources = [], flags = [] } = {}) {
  const src = path.join(__dirname, `${name}.${cxx ? 'cc' : 'c'}`);
  const out = path.join(BIN_DIR, name);
  fs.mkdirSync(BIN_DIR, { recursive: true });
  const compiler = cxx ? process.env.CXX || 'c++' : process.env.CC || 'cc';
  const args = ['-O2', ...(cxx ? ['-std=c++17'] : []), '-Wall', '-o', out, src, ...sources, ...flags];
  const r = spawnSync(compiler, args, { encoding: 'utf8' });
  if (r.error) return { error: `cannot run the C compiler \`${compiler}\`: ${r.error.message}` };
  if (r.status !== 0) return { error: `\`${compiler} ${args.join(' ')}\` failed:\n${r.stderr}` };
  return { exe: out, command: `${compiler} ${args.join(' ')}` };
}

/**
 * A running baseline: it sets up once, then each run(n) makes it perform n calls and answer
 * with its own timing. Between runs it waits on stdin, so our runs and its runs alternate and
 * never share the CPU.
 */
class Baseline {
  static async start(exe, args = []) {
    const b = new Baseline(exe, args);
    b.info = await b.#next();
    return b;
  }

  constructor(exe, args) {
    this.name = path.basename(exe);
    this.child = spawn(exe, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = readline.createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  async #next() {
    const r = await this.lines.next();
    if (r.done) {
      const { code, signal } = await this.exited;
      throw new Error(`baseline ${this.name} exited (${signal ?? code}) without answering`);
    }
    const msg = JSON.parse(r.value);
    if (msg.error) throw new Error(`baseline ${this.name}: ${msg.error}`);
    return msg;
  }

  /** ns per call over n calls, with the baseline's other outputs. */
  async run(n) {
    this.child.stdin.write(`${n}\n`);
    const msg = await this.#next();
    return { ...msg, perCall: msg.ns / msg.calls };
  }

  async close() {
    this.child.stdin.end();
    await this.exited;
  }
}

/**
 * The profile probe (napi_probe.cc): a tiny Node-API addon built against this node's headers,
 * linking the addon's parser unchanged. Returns the module, or { error } when it cannot be built.
 */
let probeModule;
function probe() {
  if (probeModule) return probeModule;
  const include = [path.join(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node']
    .find((d) => fs.existsSync(path.join(d, 'node_api.h')));
  if (!include) return (probeModule = { error: "node's headers (node_api.h) are not installed" });
  const out = path.join(BIN_DIR, 'napi_probe.node');
  fs.mkdirSync(BIN_DIR, { recursive: true });
  const compiler = process.env.CXX || 'c++';
  const args = ['-O2', '-std=c++17', '-shared', '-fPIC', '-Wall', `-I${include}`, '-o', out,
    path.join(__dirname, 'napi_probe.cc'), path.join(ROOT, 'native', 'smaps.cc')];
  const r = spawnSync(compiler, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) return (probeModule = { error: `cannot build the probe: ${r.error?.message ?? r.stderr}` });
  try {
    probeModule = require(out);
  } catch (e) {
    probeModule = { error: `cannot load the probe: ${e.message}` };
  }
  return probeModule;
}

/** Start a baseline, or return { unsupported } saying why it cannot run on this host. */
async function startBaseline(compiled, args = []) {
  if (compiled.error) return { unsupported: compiled.error };
  const b = await Baseline.start(compiled.exe, args);
  if (b.info.unsupported) {
    await b.close();
    return { unsupported: b.info.unsupported };
  }
  return b;
}

// ---- the machine ---------------------------------------------------------------------

function readTrim(file) {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function bracketed(text) {
  return text?.match(/\[([^\]]+)\]/)?.[1] ?? text;
}

function machine() {
  const THP = '/sys/kernel/mm/transparent_hugepage';
  const uname = spawnSync('uname', ['-srvm'], { encoding: 'utf8' }).stdout?.trim() || `${os.type()} ${os.release()}`;
  const cpuinfo = readTrim('/proc/cpuinfo') ?? '';
  const model = cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const mem = readTrim('/proc/meminfo')?.match(/^MemTotal:\s*(\d+) kB/m)?.[1];
  const flags = cpuinfo.match(/^flags\s*:\s*(.*)$/m)?.[1].split(' ') ?? [];
  return {
    kernel: os.release(),
    uname,
    cpu: model,
    cores: os.cpus().length,
    memTotal: mem ? Number(mem) * KiB : undefined,
    thpEnabled: bracketed(readTrim(`${THP}/enabled`)) ?? 'absent',
    thpDefrag: bracketed(readTrim(`${THP}/defrag`)) ?? 'absent',
    hpagePmdSize: Number(readTrim(`${THP}/hpage_pmd_size`)) || 0,
    virtualized: flags.includes('hypervisor'),
    loadavg: readTrim('/proc/loadavg')?.split(' ').slice(0, 3).join(' '),
    node: process.version,
    cc: spawnSync(process.env.CC || 'cc', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0] ?? 'none',
  };
}

// ---- formatting ----------------------------------------------------------------------

/** A duration in ns, in the unit that reads best. */
function fmtNs(ns) {
  if (!Number.isFinite(ns)) return String(ns);
  if (ns >= 1e9) return `${(ns / 1e9).toFixed(2)} s`;
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(1)} µs`;
  return `${ns.toFixed(ns >= 100 ? 0 : 1)} ns`;
}

function fmtBytes(b) {
  if (b >= GiB) return `${(b / GiB).toFixed(2)} GiB`;
  if (b >= MiB) return `${(b / MiB).toFixed(1)} MiB`;
  if (b >= KiB) return `${(b / KiB).toFixed(1)} KiB`;
  return `${b} B`;
}

function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const line = (cells) => cells.map((c, i) => String(c ?? '').padEnd(widths[i])).join(' │ ').trimEnd();
  return [line(headers), widths.map((w) => '─'.repeat(w)).join('─┼─'), ...rows.map(line)].join('\n');
}

module.exports = {
  ROOT, KiB, MiB, GiB,
  quantile, summary, settle, quiesce, perCall, paired, ratios, budget, load1, spreadFlags, WIDE,
  compile, Baseline, startBaseline, probe,
  machine, fmtNs, fmtBytes, table,
};
