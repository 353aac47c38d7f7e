#!/usr/bin/env node
'use strict';
/**
 * Row 5's profile: the heap's alloc+free pair in steady state over FakeMemory (the row's own
 * workload), under V8's sampling profiler, for each live-span count given. Prints ns per pair
 * and the functions with the most self time, so the growth from 1 000 to 100 000 live spans can
 * be attributed (tree depth, span map, GC). --heap pagealloc profiles the page heap (row 5b) instead.
 *
 *   node scripts/bench/profile-heap.js [--heap treap|pagealloc] [live ...]     (default: treap, 1000 100000)
 */
const inspector = require('node:inspector');
const path = require('node:path');
const { plan, fill, churn } = require('./workload');

const dist = path.resolve(__dirname, '..', '..', 'dist');
const { FakeMemory } = require(path.join(dist, 'sys/fake'));
const { Sys } = require(path.join(dist, 'sys/sys'));
const { MHeap } = require(path.join(dist, 'heap/mheap'));
const { PageHeap } = require(path.join(dist, 'heap/pageheap'));

const PAIRS = 200000;

function post(session, method, params) {
  return new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
}

async function profile(live, kind) {
  const arena = Math.ceil((live * 4.5 * 8192 * 3) / (64 << 20)) * (64 << 20);
  const sys = new Sys(new FakeMemory(), { thp: 'always' });
  const heap = kind === 'pagealloc' ? new PageHeap(sys, { arenaBytes: arena }) : new MHeap(sys, { arenaBytes: arena, policy: 'coalesce' });
  const warm = Math.min(2 * live, 100000);
  const p = plan({ seed: 5, live, pairs: warm + PAIRS, sizes: 'small' });
  const spans = fill(heap, p);
  churn(heap, spans, p, { to: warm });

  const session = new inspector.Session();
  session.connect();
  await post(session, 'Profiler.enable');
  await post(session, 'Profiler.setSamplingInterval', { interval: 500 });
  await post(session, 'Profiler.start');
  const t0 = process.hrtime.bigint();
  churn(heap, spans, p, { from: warm, to: warm + PAIRS });
  const ns = Number(process.hrtime.bigint() - t0) / PAIRS;
  const { profile: prof } = await post(session, 'Profiler.stop');
  session.disconnect();

  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  prof.samples.forEach((id, i) => {
    const dt = prof.timeDeltas[i] ?? 0;
    const f = byId.get(id).callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : ''}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  const shape = kind === 'pagealloc' ? `${heap.pages.levels} summary levels` : `${heap.freeSet?.size ?? '?'} free spans`;
  console.log(`\n${kind}, ${live} live spans: ${ns.toFixed(0)} ns per alloc+free pair; ${shape}`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
    console.log(`  ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
  }
  heap.close();
}

(async () => {
  const args = process.argv.slice(2);
  const at = args.indexOf('--heap');
  const kind = at >= 0 ? args.splice(at, 2)[1] : 'treap';
  if (kind !== 'treap' && kind !== 'pagealloc') throw new Error(`--heap wants treap or pagealloc, not ${kind}`);
  const lives = args.map(Number);
  for (const live of lives.length ? lives : [1000, 100000]) await profile(live, kind);
})();
