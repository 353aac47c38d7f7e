#!/usr/bin/env node
'use strict';
/**
 * `npm run bench`: every cost hugespan adds, as a ratio against its physical baseline taken in
 * the same run (issue 5). Each row runs several times; the table shows the median and the
 * spread (min–max) of each side and of the per-run ratio, the load average while the row ran,
 * and whether the spread leaves the verdict meaningful (issue 12). Results also go to JSON.
 *
 *   node --expose-gc scripts/bench/run.js [--quick] [--runs N] [--budget S] [--only 1,3,7] [--out FILE] [--quiet]
 *
 * The whole bench keeps to a time budget (default 100 s; --quick 50 s): each group of rows gets a
 * deadline (its weight's share of the time left) and stops repeating runs once the next one would
 * end after it, never below 3 recorded runs (2 with --quick). A row that ran fewer than --runs
 * says so in the `runs` column.
 *
 * Needs dist/ (npm run build) and build/Release/hugespan.node; the C baselines are compiled here
 * with the system compiler (cc, c++) into build/bench.
 */
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, machine, quiesce, fmtNs, fmtBytes, table, budget, load1, spreadFlags, WIDE } = require('./lib');

// weight: the group's share of the time budget (about its time on a quiet 2-vCPU VM at 7 runs).
const ROWS = [
  { ids: ['1', '2'], file: './rows/smaps', weight: 4 },
  { ids: ['3'], file: './rows/coverage', weight: 3 },
  { ids: ['4'], file: './rows/madvise', weight: 3 },
  { ids: ['5', '9'], file: './rows/bookkeeping', weight: 5 },
  { ids: ['7'], file: './rows/first-touch', weight: 5 },
  { ids: ['6', '8'], file: './rows/churn', weight: 7 },
  { ids: ['12'], file: './rows/reads', weight: 3 },
  { ids: ['10', '11', '13', '15'], file: './rows/report', weight: 22 },
  { ids: ['14'], file: './rows/all', weight: 4 },
  { ids: ['16', '17'], file: './rows/scrape', weight: 6 },
  { ids: ['18'], file: './rows/bloat', weight: 3 },
  { ids: ['19'], file: './rows/go-trace', weight: 3 },
];

const DEFAULTS = { runs: 7, budget: 100, minRuns: 3 };
const QUICK = { runs: 3, budget: 50, minRuns: 2 };

function parseArgs(argv) {
  const opts = { runs: undefined, budget: undefined, quick: false, only: null, out: path.join(ROOT, 'bench-results.json'), quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--runs') opts.runs = Number(value());
    else if (a === '--budget') opts.budget = Number(value());
    else if (a === '--quick') opts.quick = true;
    else if (a === '--only') opts.only = new Set(value().split(','));
    else if (a === '--out') opts.out = path.resolve(value());
    else if (a === '--quiet') opts.quiet = true;
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${a}`);
  }
  const d = opts.quick ? QUICK : DEFAULTS;
  opts.runs ??= d.runs;
  opts.budget ??= d.budget;
  opts.minRuns = Math.min(d.minRuns, opts.runs);
  if (!Number.isInteger(opts.runs) || opts.runs < 1) usage('--runs must be a positive integer');
  if (!(opts.budget > 0)) usage('--budget must be a positive number of seconds');
  if (opts.only) {
    const known = new Set(ROWS.flatMap((g) => g.ids));
    const unknown = [...opts.only].filter((id) => !known.has(id));
    if (unknown.length) usage(`--only: no row ${unknown.join(', ')} (rows: ${[...known].join(', ')})`);
  }
  return opts;
}

function usage(error) {
  const text = [
    'usage: node --expose-gc scripts/bench/run.js [--quick] [--runs N] [--budget S] [--only 1,3,7] [--out FILE] [--quiet]',
    '',
    `  --quick      a one-minute pass: ${QUICK.runs} runs, smaller sizes, a ${QUICK.budget} s budget (the output says QUICK)`,
    `  --runs N     recorded runs per row (default ${DEFAULTS.runs}; --quick ${QUICK.runs}); fewer when the budget runs out`,
    `  --budget S   seconds for the whole bench (default ${DEFAULTS.budget}; --quick ${QUICK.budget}); each group of rows gets`,
    `               its share and stops repeating once out of time, never below ${DEFAULTS.minRuns} runs (--quick ${QUICK.minRuns})`,
    `  --only IDS   some rows; a group runs whole (groups: ${ROWS.map((g) => g.ids.join('+')).join(', ')})`,
    '  --out FILE   the JSON (default bench-results.json at the repo root)',
    '  --quiet      no progress on stderr',
  ].join('\n');
  if (error) {
    console.error(`bench: ${error}\n${text}`);
    process.exit(2);
  }
  console.log(text);
  process.exit(0);
}

const FORMAT = {
  ns: fmtNs,
  bytes: fmtBytes,
  count: (n) => (Number.isInteger(n) ? String(n) : n.toFixed(3)),
  pct: (x) => `${(100 * x).toFixed(1)}%`,
  gbps: (x) => `${x.toFixed(2)} GB/s`,
};

function fmtSide(s, unit) {
  if (!s) return '—';
  const f = FORMAT[unit ?? 'ns'];
  return s.min === s.max ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

function fmtRatio(s) {
  if (!s) return '—';
  return s.min === s.max ? `${s.median.toFixed(2)}×` : `${s.median.toFixed(2)}× (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
}

/**
 * The verdict of a row and the spread flags (lib.spreadFlags): a row judges `limit.on` (the
 * per-run ratio unless it says otherwise) against `limit.max` / `limit.min` by its median, or
 * brings its own `verdict`; either way the spread of the judged runs can mark it unsettled or noisy.
 */
function judge(r) {
  if (r.error) return { verdict: 'ERROR', flags: [] };
  if (r.waiting) return { verdict: 'waiting', flags: [] };
  if (r.unsupported) return { verdict: 'n/a', flags: [] };
  const dist = r.limit?.on ?? r.ratio;
  let base = r.verdict;
  if (!base && r.limit && dist) {
    const x = dist.median;
    base = (r.limit.max === undefined || x <= r.limit.max) && (r.limit.min === undefined || x >= r.limit.min) ? 'pass' : 'MISS';
  }
  base ??= 'report';
  const flags = r.exact ? [] : spreadFlags(dist, r.limit);
  return { verdict: flags.length ? `${base}; ${flags.join(', ')}` : base, base, flags };
}

function runsOf(r) {
  return (r.limit?.on ?? r.ratio ?? r.ours)?.runs?.length;
}

const fmtLoad = (l) => (l ? `${l.start.toFixed(1)}→${l.end.toFixed(1)}` : '');

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const dist = path.join(ROOT, 'dist');
  if (!fs.existsSync(path.join(dist, 'native', 'binding.js'))) {
    console.error('bench: dist/ is missing; run `npm run build` (npx tsc -p tsconfig.build.json) first');
    process.exit(1);
  }
  // The budget counts from the start of this node process (performance.now()'s origin).
  const budgetEnd = opts.budget * 1000;
  budget.minRuns = opts.minRuns;
  const m = machine();
  const head = [
    `hugespan bench — ${new Date().toISOString()}${opts.quick ? ' — QUICK PASS (--quick): fewer runs, smaller sizes; not for citing' : ''}`,
    `kernel ${m.uname} │ CPU ${m.cpu} × ${m.cores}${m.virtualized ? ' (virtual machine)' : ''} │ RAM ${m.memTotal ? fmtBytes(m.memTotal) : '?'} │ load ${m.loadavg}`,
    `THP enabled=${m.thpEnabled} defrag=${m.thpDefrag} hpage_pmd_size=${m.hpagePmdSize} │ node ${m.node} │ ${m.cc}`,
    `${opts.runs} runs per row (at least ${opts.minRuns} when the ${opts.budget} s budget runs short); each cell: median (min–max); ratio = ours / baseline per run${typeof global.gc === 'function' ? '' : ' │ (no --expose-gc: GC not settled between runs)'}`,
  ];
  console.log(head.join('\n'));

  const profiles = {};
  const results = [];
  const ctx = {
    root: ROOT,
    runs: opts.runs,
    quick: opts.quick,
    only: opts.only,
    machine: m,
    /** A deadline for part of a row: `share` of the group's time left (see lib.budget). */
    deadline: (share) => budget.deadline(share),
    /** Whether another step of `stepMs` (e.g. one more seed) fits before the group's deadline. */
    affords: (stepMs) => budget.affords(budget.deadline(), stepMs),
    minRuns: opts.minRuns,
    dist: (name) => require(path.join(dist, name)),
    distExists: (name) => fs.existsSync(path.join(dist, `${name}.js`)) || fs.existsSync(path.join(dist, name, 'index.js')),
    profile: (row, obj) => (profiles[row] = obj),
    result: (id) => results.find((r) => r.row === id),
    log: (msg) => {
      if (!opts.quiet) process.stderr.write(`  ${msg}\n`);
    },
  };

  const groups = ROWS.filter((g) => !opts.only || g.ids.some((id) => opts.only.has(id)));
  const RESERVE = 2000; // ms kept for the table and the JSON
  for (const [i, group] of groups.entries()) {
    const t = performance.now();
    const weightLeft = groups.slice(i).reduce((n, g) => n + g.weight, 0);
    budget.groupDeadline = t + Math.max(0, budgetEnd - RESERVE - t) * (group.weight / weightLeft);
    ctx.log(`rows ${group.ids.join(', ')} … (${((budget.groupDeadline - t) / 1000).toFixed(1)} s of budget)`);
    await quiesce();
    const start = load1();
    const rows = [];
    try {
      rows.push(...(await require(group.file)(ctx)));
    } catch (e) {
      for (const id of group.ids) rows.push({ row: id, what: `(failed: ${e.message})`, error: String(e.stack || e) });
      console.error(e);
    }
    const load = { start, end: load1() };
    for (const r of rows) r.load = load;
    results.push(...rows);
    ctx.log(`rows ${group.ids.join(', ')}: ${((performance.now() - t) / 1000).toFixed(1)} s, load ${fmtLoad(load)}`);
  }
  budget.groupDeadline = Infinity;
  results.sort((a, b) => a.row.localeCompare(b.row, 'en', { numeric: true }));

  const judged = results.map((r) => ({ r, j: judge(r) }));
  const lines = judged.map(({ r, j }) => [
    r.row,
    r.what,
    r.unsupported || r.waiting ? (r.unsupported || r.waiting) : fmtSide(r.ours, r.unit),
    r.baseline ? `${fmtSide(r.baseline, r.unit)}${r.baseline.label ? ` ${r.baseline.label}` : ''}` : '—',
    r.ratio ? fmtRatio(r.ratio) : r.error ? 'error' : '—',
    r.target ?? '',
    j.verdict,
    runsOf(r) ?? '',
    fmtLoad(r.load),
  ]);
  console.log(`\n${table(['row', 'what', 'ours', 'baseline', 'ratio', 'target', 'verdict', 'runs', 'load'], lines)}`);
  console.log(
    `verdicts: by the median of the judged runs (the per-run ratio unless the row says otherwise); ` +
      `"unsettled": the target lies inside the runs' min–max (some runs pass, some miss), so the verdict could flip on a re-run; ` +
      `"noisy": the runs' max/min is above ${WIDE} (the machine moved more than most effects judged here). ` +
      `Either makes the verdict meaningless on this run: re-run on a quieter machine before citing it. ` +
      `load: 1-minute load average at the start → end of the row's group.`,
  );
  const notes = results.filter((r) => r.note).map((r) => `  ${r.row}: ${r.note}`);
  if (notes.length) console.log(`\nnotes\n${notes.join('\n')}`);
  const seen = new Set();
  const depends = [];
  for (const r of results) {
    if (!r.dependsOn || seen.has(`${r.row}\0${r.dependsOn}`)) continue;
    seen.add(`${r.row}\0${r.dependsOn}`);
    depends.push(`  ${r.row}: ${r.dependsOn}`);
  }
  if (depends.length) console.log(`\nwhat in the machine each ratio depends on\n${depends.join('\n')}`);
  for (const [row, p] of Object.entries(profiles)) {
    console.log(`\nprofile, row ${row} (medians)`);
    for (const [k, v] of Object.entries(p)) console.log(`  ${k.padEnd(64)} ${typeof v === 'number' ? fmtNs(v) : v}`);
  }
  const seconds = performance.now() / 1000;
  const loadEnd = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

  const json = {
    date: new Date().toISOString(),
    quick: opts.quick,
    machine: m,
    runs: opts.runs,
    minRuns: opts.minRuns,
    budgetSeconds: opts.budget,
    seconds,
    loadavgEnd: loadEnd,
    rows: judged.map(({ r, j }) => ({ ...r, verdict: j.verdict, spread: j.flags, recordedRuns: runsOf(r) })),
    profiles,
  };
  fs.writeFileSync(opts.out, `${JSON.stringify(json, null, 2)}\n`);
  console.log(`\nresults: ${path.relative(process.cwd(), opts.out) || opts.out}`);
  console.log(
    `${results.length} rows${opts.quick ? ' (QUICK PASS)' : ''}; total wall time ${seconds.toFixed(1)} s ` +
      `(this node process from its start; budget ${opts.budget} s; \`npm run bench\` adds tsc first); load average at the end: ${loadEnd}`,
  );
  if (results.some((r) => r.error)) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
