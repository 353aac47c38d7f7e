#!/usr/bin/env node
'use strict';
/**
 * `npm run bench`: every cost hugespan adds, as a ratio against its physical baseline taken in
 * the same run (issue 5). Each row runs several times; the table shows the median and the
 * spread (min–max) of each side and of the per-run ratio. Results also go to JSON.
 *
 *   node --expose-gc scripts/bench/run.js [--runs N] [--only 1,3,7] [--out FILE] [--quiet]
 *
 * Needs dist/ (npm run build) and build/Release/hugespan.node; the C baselines are compiled here
 * with the system compiler (cc, c++) into build/bench.
 */
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, machine, quiesce, fmtNs, fmtBytes, table } = require('./lib');

const ROWS = [
  { ids: ['1', '2'], file: './rows/smaps' },
  { ids: ['3'], file: './rows/coverage' },
  { ids: ['4'], file: './rows/madvise' },
  { ids: ['5', '9'], file: './rows/bookkeeping' },
  { ids: ['7'], file: './rows/first-touch' },
  { ids: ['6', '8'], file: './rows/churn' },
  { ids: ['10', '11'], file: './rows/report' },
];

function parseArgs(argv) {
  const opts = { runs: 7, only: null, out: path.join(ROOT, 'bench-results.json'), quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--runs') opts.runs = Number(value());
    else if (a === '--only') opts.only = new Set(value().split(','));
    else if (a === '--out') opts.out = path.resolve(value());
    else if (a === '--quiet') opts.quiet = true;
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${a}`);
  }
  if (!Number.isInteger(opts.runs) || opts.runs < 1) usage('--runs must be a positive integer');
  return opts;
}

function usage(error) {
  const text = 'usage: node --expose-gc scripts/bench/run.js [--runs N] [--only 1,3,7] [--out FILE] [--quiet]';
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

function verdict(r) {
  if (r.waiting) return 'waiting';
  if (r.unsupported) return 'n/a';
  if (r.verdict) return r.verdict;
  if (r.check) return r.check(r.ratio.median) ? 'pass' : 'MISS';
  return 'report';
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const dist = path.join(ROOT, 'dist');
  if (!fs.existsSync(path.join(dist, 'native', 'binding.js'))) {
    console.error('bench: dist/ is missing; run `npm run build` (npx tsc -p tsconfig.build.json) first');
    process.exit(1);
  }
  const m = machine();
  const head = [
    `hugespan bench — ${new Date().toISOString()}`,
    `kernel ${m.uname} │ CPU ${m.cpu} × ${m.cores}${m.virtualized ? ' (virtual machine)' : ''} │ RAM ${m.memTotal ? fmtBytes(m.memTotal) : '?'} │ load ${m.loadavg}`,
    `THP enabled=${m.thpEnabled} defrag=${m.thpDefrag} hpage_pmd_size=${m.hpagePmdSize} │ node ${m.node} │ ${m.cc}`,
    `${opts.runs} runs per row; each cell: median (min–max); ratio = ours / baseline per run${typeof global.gc === 'function' ? '' : ' │ (no --expose-gc: GC not settled between runs)'}`,
  ];
  console.log(head.join('\n'));

  const profiles = {};
  const results = [];
  const ctx = {
    root: ROOT,
    runs: opts.runs,
    machine: m,
    dist: (name) => require(path.join(dist, name)),
    distExists: (name) => fs.existsSync(path.join(dist, `${name}.js`)) || fs.existsSync(path.join(dist, name, 'index.js')),
    profile: (row, obj) => (profiles[row] = obj),
    result: (id) => results.find((r) => r.row === id),
    log: (msg) => {
      if (!opts.quiet) process.stderr.write(`  ${msg}\n`);
    },
  };

  const t0 = Date.now();
  for (const group of ROWS) {
    if (opts.only && !group.ids.some((id) => opts.only.has(id))) continue;
    const t = Date.now();
    ctx.log(`rows ${group.ids.join(', ')} …`);
    await quiesce();
    try {
      results.push(...(await require(group.file)(ctx)));
    } catch (e) {
      for (const id of group.ids) results.push({ row: id, what: `(failed: ${e.message})`, error: String(e.stack || e) });
      console.error(e);
    }
    ctx.log(`rows ${group.ids.join(', ')}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  results.sort((a, b) => a.row.localeCompare(b.row, 'en', { numeric: true }));

  const lines = results.map((r) => [
    r.row,
    r.what,
    r.unsupported || r.waiting ? (r.unsupported || r.waiting) : fmtSide(r.ours, r.unit),
    r.baseline ? `${fmtSide(r.baseline, r.unit)}${r.baseline.label ? ` ${r.baseline.label}` : ''}` : '—',
    r.ratio ? fmtRatio(r.ratio) : r.error ? 'error' : '—',
    r.target ?? '',
    r.error ? 'ERROR' : verdict(r),
  ]);
  console.log(`\n${table(['row', 'what', 'ours', 'baseline', 'ratio', 'target', 'verdict'], lines)}`);
  const notes = results.filter((r) => r.note).map((r) => `  ${r.row}: ${r.note}`);
  if (notes.length) console.log(`\nnotes\n${notes.join('\n')}`);
  for (const [row, p] of Object.entries(profiles)) {
    console.log(`\nprofile, row ${row} (medians)`);
    for (const [k, v] of Object.entries(p)) console.log(`  ${k.padEnd(64)} ${typeof v === 'number' ? fmtNs(v) : v}`);
  }
  const seconds = (Date.now() - t0) / 1000;
  const loadEnd = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`\n${results.length} rows in ${seconds.toFixed(0)} s; load average at the end: ${loadEnd}`);

  const json = {
    date: new Date().toISOString(),
    machine: m,
    runs: opts.runs,
    seconds,
    loadavgEnd: loadEnd,
    rows: results.map(({ check, ...r }) => ({ ...r, verdict: r.error ? 'ERROR' : verdict({ check, ...r }) })),
    profiles,
  };
  fs.writeFileSync(opts.out, `${JSON.stringify(json, null, 2)}\n`);
  console.log(`results: ${path.relative(process.cwd(), opts.out) || opts.out}`);
  if (results.some((r) => r.error)) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
