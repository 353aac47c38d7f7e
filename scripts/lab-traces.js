#!/usr/bin/env node
'use strict';
/**
 * node scripts/lab-traces.js [TRACE...]: README's table of the lab on real Go programs. Every
 * policy runs each shipped trace (traces/*.spans.gz) as its program ran it, then again with one
 * of the lab's own choices changed — khugepaged absent / the collapse pass / the model, the
 * clock ×10, every release advice MADV_FREE / MADV_DONTNEED — and the table says whether the
 * ranking by steady in-use huge share survives each change. The base runs twice: a pair of
 * policies the two base runs already order differently, or that one base run separates by less
 * than 2 points plus what the two base runs differ by, is noise, not a flip. Prints markdown and
 * the machine it ran on.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { runLab } = require('../dist/lab/run.js');
const { loadGoTrace } = require('../dist/lab/go-trace.js');
const { POLICY_NAMES } = require('../dist/heap/policy/index.js');

const DIR = path.join(__dirname, '..', 'traces');
const files = process.argv.slice(2).length ? process.argv.slice(2) : fs.readdirSync(DIR).filter((f) => f.endsWith('.spans.gz')).sort().map((f) => path.join(DIR, f));
const BASE = { khugepaged: 'none', release: 'default', timeScale: 1 };
const VARIANTS = [
  ['collapse pass', { khugepaged: 'pass' }],
  ['khugepaged model', { khugepaged: 'model' }],
  ['clock ×10', { timeScale: 10 }],
  ['all MADV_FREE', { release: 'free' }],
  ['all MADV_DONTNEED', { release: 'dontneed' }],
];
const NOISE = 0.02;

function runAll(trace, file, over) {
  const out = {};
  for (const policy of POLICY_NAMES) {
    const o = { ...BASE, ...over };
    const r = runLab({ policy, heap: 'treap', thp: 'always', arenaBytes: 512 << 20, ops: trace.count, seed: 1, reads: 20000, workload: 'go-trace', trace: file, khugepaged: o.khugepaged, release: o.release, timeScale: o.timeScale }, undefined, { goTrace: trace });
    out[policy] = r;
  }
  return out;
}

/** Pairs both base runs order p > q beyond the noise, that the variant orders q > p beyond it. */
function flips(base, again, other) {
  const share = (r, p) => r[p].steady.inUseHugeShare;
  const noise = (p) => NOISE + Math.abs(share(base, p) - share(again, p));
  const f = [];
  for (const p of POLICY_NAMES)
    for (const q of POLICY_NAMES) {
      const margin = noise(p) + noise(q);
      const b = Math.min(share(base, p) - share(base, q), share(again, p) - share(again, q));
      const v = share(other, p) - share(other, q);
      if (b > margin && v < -margin) f.push(`${q}>${p}`);
    }
  return f;
}

const pct = (x) => `${(100 * x).toFixed(0)}%`;
const rows = [];
const t0 = Date.now();
for (const file of files) {
  const { trace } = loadGoTrace(fs.readFileSync(file), file);
  const name = path.basename(file, '.spans.gz');
  const started = Date.now();
  const base = runAll(trace, name, {});
  const baseMs = Date.now() - started;
  const again = runAll(trace, name, {});
  const spread = Math.max(...POLICY_NAMES.map((p) => Math.abs(base[p].steady.inUseHugeShare - again[p].steady.inUseHugeShare)));
  const ranking = [...POLICY_NAMES].sort((a, b) => base[b].steady.inUseHugeShare - base[a].steady.inUseHugeShare);
  const checks = VARIANTS.map(([label, over]) => {
    const f = flips(base, again, runAll(trace, name, over));
    return f.length ? `${label}: ${f.join(', ')}` : null;
  }).filter(Boolean);
  const gt = base.coalesce.runtime.goTrace;
  const over = (p) => `${base[p].countOverRun.overEligible}/${base[p].countOverRun.samples}`;
  rows.push(
    `| ${name} | ${trace.count} | ${POLICY_NAMES.map((p) => pct(base[p].steady.inUseHugeShare)).join(' / ')} | ${ranking.join(' > ')} | ${checks.length ? checks.join('; ') : 'holds under all 5'} (repeat: ±${(100 * spread).toFixed(0)} pt) | ${over('none')} · ${over('coalesce')} | ${gt.equalAtGc}/${gt.gcs} | ${(baseMs / 1000).toFixed(1)} s |`,
  );
  process.stderr.write(`${name}: done\n`);
}
console.log(`| trace | heap events | steady in-use huge share: ${POLICY_NAMES.join(' / ')} | ranking | ranking when the lab's choices change | count > eligible, samples: none · coalesce | heap = trace at GC | 5 policies |`);
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
console.log(`\n${os.cpus().length} × ${os.cpus()[0].model.trim()}, Linux ${os.release()}, node ${process.version}; ${((Date.now() - t0) / 1000).toFixed(0)} s in all.`);
