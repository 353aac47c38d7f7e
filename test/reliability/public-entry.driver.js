/**
 * The public-entry table, run in a child by public-entry.test.ts (a call that hangs is then a
 * timeout, not a stuck test runner). Every export of dist/index.js and the sub-indexes that is a
 * function or a class must have a recipe here: valid arguments for each function, constructor
 * and method. Each call is then made again with every hostile value in each argument position
 * (and in each field of an options object), and every method and accessor is called on every
 * hostile receiver. Invariant checked: whatever is thrown is an Error with a string `code`
 * (ERR_INVALID_THIS for a foreign receiver), and a refused call leaves the object's state (its
 * snapshot, invariants, the process's mappings) as it was. Prints one JSON line.
 */
'use strict';
const path = require('node:path');

const DIST = process.env.PUBLIC_ENTRY_DIST || path.join(__dirname, '..', '..', 'dist');
const api = require(path.join(DIST, 'index.js'));
const subIndexes = ['heap', 'verify', 'account'].map((d) => require(path.join(DIST, d, 'index.js')));
const exportsByName = Object.assign({}, ...subIndexes, api);

const P = api.hostInfo().pageSize;
const H = api.hugePageSize() || 2 << 20;
const MiB = 1 << 20;

function hostiles() {
  const detached = new Uint8Array(16);
  structuredClone(detached.buffer, { transfer: [detached.buffer] });
  const trap = () => {
    throw new Error('hostile trap');
  };
  const proxy = new Proxy({}, { get: trap, has: trap, ownKeys: trap, getOwnPropertyDescriptor: trap, getPrototypeOf: trap, set: trap, defineProperty: trap });
  // Any property read that is not its own reaches a prototype whose every read throws.
  const getter = Object.create(new Proxy({}, { get: trap }));
  return [
    ['null', null], ['undefined', undefined], ['Symbol()', Symbol('hostile')], ['1n', 1n], ['{}', {}], ['[]', []],
    ['throwing Proxy', proxy], ['throwing getters', getter], ['detached Uint8Array', detached], ['NaN', NaN],
    ['-1', -1], ['2**53', 2 ** 53], ['2**60', 2 ** 60], ["'x'", 'x'], ['frozen {}', Object.freeze({})],
    // Array.isArray sees through a Proxy: an "array" whose every read throws.
    ['throwing array Proxy', new Proxy([], { get: trap, getOwnPropertyDescriptor: trap, has: trap, ownKeys: trap })],
    ['array of throwing Proxies', [proxy, proxy, proxy]],
  ];
}

// ---- fixtures: fresh objects per call, so one call's effect never hides another's -------------
const fake = () => new api.FakeMemory();
const sys = () => new api.Sys(fake());
const mheap = () => {
  const h = new api.MHeap(sys(), { arenaBytes: 16 * MiB, growBytes: 4 * MiB });
  const a = h.alloc(3);
  h.alloc(2);
  h.free(a);
  return h;
};
const pageHeap = () => {
  const h = new api.PageHeap(sys(), { arenaBytes: 16 * MiB, growBytes: 4 * MiB });
  h.free(h.alloc(3));
  h.alloc(2);
  return h;
};
const pageSpans = () => new api.PageSpans(pageHeap());
const pageAlloc = () => {
  const pa = new api.PageAlloc(2048);
  pa.grow(1024);
  pa.allocRange(pa.find(5), 5);
  return pa;
};
const mapping = () => new api.Mapping(4 * P, { commit: true });

// State read before and after a refused call: it must not move.
const heapState = (h) => {
  h.checkInvariants();
  return JSON.stringify([h.snapshot ? h.snapshot() : [...h.spans()].map((s) => [s.base, s.npages, s.state, s.scavenged]), h.sys.snapshotCalls()]);
};
const mappingState = () => JSON.stringify(api.mappings());

/**
 * Recipes. Functions: args() gives valid arguments. Classes: make() an instance, ctor() valid
 * constructor arguments, methods[name]() valid arguments for a method (default none), state(x)
 * what must not change when a call on x is refused. `skip` names methods not fuzzed (and why).
 */
const spanOf = (h) => h.alloc(1);
const recipes = {
  // native
  mappings: { args: () => [] },
  readSmaps: { args: () => ['self'] },
  readSmapsRollup: { args: () => ['self'] },
  parseSmaps: { args: () => ['00400000-00401000 r-xp 00000000 00:00 0 \nSize: 4 kB\n', 16] },
  vmaAt: { args: () => [api.readSmaps('self'), 0x400000] },
  vmasIn: { args: () => [api.readSmaps('self'), 0, 2 ** 47] },
  coverage: { args: () => { const m = mapping(); keep.push(m); return ['self', m.address, m.end, { crossCheck: false, withRuns: true }]; } },
  pagemapScanSupported: { args: () => [] },
  hostInfo: { args: () => [] },
  thpSettings: { args: () => [] },
  hugePageSize: { args: () => [] },
  hugePagesAvailable: { args: () => [] },
  thpDisabledFor: { args: () => ['self'] },
  thpDisabledForSelf: { args: () => [] },
  setThpDisabledForSelf: { args: () => [false] },
  // accounting
  processReport: { args: () => [process.pid, { exact: true, seen: false }] },
  streamProcessReport: { args: () => [process.pid, { exact: false }, { head() {}, vma() {} }] },
  systemReport: { args: () => [{ all: false }], slow: true },
  meaningOf: { args: () => ['process-thp-disabled'] },
  predictionOf: { args: () => ['collapsible-waiting'] },
  // owners
  ownerSnapshot: { args: () => [process.pid] },
  ownersOf: { args: () => [process.pid] },
  attributeOwners: { args: () => [api.ownerSnapshot(process.pid)] },
  fixesFor: { args: () => [{ runtimes: [{ name: 'glibc', version: '2.36' }], entries: [] }, ['glibc-main-arena']] },
  fixEnv: { args: () => [api.FIXES.filter((f) => f.env).slice(0, 2), { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }] },
  hostJson: { args: () => [api.hostInfo()] },
  thpJson: { args: () => [api.hostInfo()] },
  // heap and verify
  hugePagesIn: { args: () => [0, 4 * H, H] },
  verify: { args: () => [new api.MHeap(new api.Sys(new api.LinuxMemory()), { arenaBytes: 8 * MiB, growBytes: 4 * MiB })] },
  collapse: { args: () => [new api.MHeap(new api.Sys(new api.LinuxMemory()), { arenaBytes: 8 * MiB, growBytes: 4 * MiB })] },
  frameTruth: { args: () => { const m = new api.Mapping(2 * H, { align: 'hugepage' }); keep.push(m); return [m.address, m.end, H]; } },
  startScavenger: { args: () => [mheap(), { heapGoal: 4 * MiB }], after: (s) => s && s.stop() },
  runLab: { args: () => [{ policy: 'coalesce', thp: 'host', arenaBytes: 8 * MiB, ops: 20, seed: 1, reads: 0, heap: 'treap' }], slow: true },

  // classes
  Mapping: {
    ctor: () => [4 * P, { commit: true, align: 'page' }], make: mapping, state: mappingState,
    methods: { commit: () => [0, P], decommit: () => [0, P], advise: () => ['normal', 0, P], touch: () => [0, P, 1], readPages: () => [0, P], view: () => [0, P] },
    statics: { randomReads: () => { const m = mapping(); keep.push(m); return [[[m, 0, P]], 4, 1]; } },
  },
  Sys: {
    ctor: () => [fake(), { release: 'free', edges: true, thp: 'always' }], make: sys,
    methods: { sysReserve: () => [4 * MiB], sysMap: () => [0, P], sysUsed: () => [0, P], sysHugePage: () => [0, P], sysUnused: () => [0, P], sysFree: () => [0], madvise: () => [0, P, 'normal'] },
  },
  LinuxMemory: {
    ctor: () => [{ hugePages: true }], make: () => new api.LinuxMemory(), state: mappingState,
    methods: { reserve: () => [4 * P, P], commit: () => [0, P], madvise: () => [0, P, 'normal'], unmap: () => [0], touch: () => [0, P, 1], randomReads: () => [[[0, P]], 4, 1] },
  },
  FakeMemory: {
    ctor: () => [{ physPageSize: 4096, physHugePageSize: 2 * MiB }], make: fake,
    methods: { reserve: () => [4 * MiB, 4096], commit: () => [0x7f0000000000, 4096], madvise: () => [0x7f0000000000, 4096, 'hugepage'], unmap: () => [0x7f0000000000], touch: () => [0x7f0000000000, 4096], flagsAt: () => [0x7f0000000000], frameFlags: () => [0x7f0000000000], framesMarked: () => ['hg', 0x7f0000000000, 4096], residentBytes: () => [0x7f0000000000, 4096], committedBytes: () => [0x7f0000000000, 4096] },
  },
  MHeap: {
    ctor: () => [sys(), { arenaBytes: 16 * MiB, pageSize: 8192, growBytes: 4 * MiB, policy: 'coalesce', seed: 1 }], make: mheap, state: heapState,
    methods: { alloc: () => [2], free: (h) => [spanOf(h)], scavenge: () => [8192], frameInUse: () => [0], dirtyIn: (h) => [h.arenaBase, h.arenaBase + 4 * MiB], releaseRange: (h) => [h.arenaBase, h.arenaBase + 4 * MiB, 8192], scavengeTopDown: () => [8192], sysHugePage: (h) => [h.arenaBase, H], sysNoHugePage: (h) => [h.arenaBase, H], sysCollapse: (h) => [h.arenaBase, H], tick: () => [1], spanOf: (h) => [h.arenaBase], scavengeIfNeeded: () => [8192] },
    skip: { sysCollapse: 'FakeMemory models collapse as a no-op; its arguments are checked by Sys' },
  },
  Span: {
    ctor: () => [mheap(), 0, 1, 'inUse', false], make: () => mheap().alloc(1),
    methods: { contains: (s) => [s.base] },
  },
  PageAlloc: {
    ctor: () => [1024], make: pageAlloc, state: (pa) => { const v = pa.validate(); if (v) throw new Error(v); return JSON.stringify([pa.alloc, pa.scav, pa.starts, pa.dirty, pa.grown]); },
    methods: { summaryAt: () => [0, 0], grow: () => [8], lengthAt: () => [0], find: () => [3], allocRange: (pa) => [pa.find(2), 2], free: () => [0], markScavenged: (pa) => [pa.find(2), 2], findDirty: () => [1024, { lo: 0, hi: 0 }], count: (pa) => [pa.alloc, 0, 64], isFree: () => [7], isScavenged: () => [7], summarizeChunk: () => [0] },
  },
  PageHeap: {
    ctor: () => [sys(), { arenaBytes: 16 * MiB, pageSize: 8192, growBytes: 4 * MiB }], make: pageHeap, state: heapState,
    methods: { alloc: () => [2], free: (h) => [h.alloc(1)], sizeOf: (h) => [h.arenaBase], scavenge: () => [8192], tick: () => [1], scavengeIfNeeded: () => [8192] },
  },
  PageRun: { ctor: () => [0, 1, 'free', true, 8192, H], make: () => new api.PageRun(0, 1, 'free', true, 8192, H) },
  PageSpans: {
    ctor: () => [pageHeap()], make: pageSpans, state: heapState,
    methods: { alloc: () => [2], free: (h) => [h.alloc(1)], scavenge: () => [8192], tick: () => [1] },
  },
  PageSpan: { ctor: () => [pageSpans(), 0, 1, 8192], make: () => pageSpans().alloc(1) },
  BackgroundScavenger: {
    ctor: () => [mheap(), { heapGoal: 4 * MiB, now: () => 0 }], make: () => new api.BackgroundScavenger(mheap(), { heapGoal: 4 * MiB, now: () => 0 }),
    methods: { pace: () => [4 * MiB] }, after: (s) => s.stop && s.stop(),
  },
  Rand: { ctor: () => [1], make: () => new api.Rand(1), methods: { int: () => [10] } },
  GcModel: {
    ctor: () => [mheap(), { gogc: 100 }], make: () => new api.GcModel(mheap()),
    methods: { onPace: () => [() => {}], allocated: (g) => [g.heap.alloc(1)], died: (g) => [g.heap.alloc(1)] },
  },
  ProcessError: { ctor: () => ['gone', 'ERR_HUGESPAN_EXITED', { cause: 1 }], make: () => new api.ProcessError('gone', 'ERR_HUGESPAN_EXITED') },
};

const keep = []; // mappings the recipes made, alive until the end
const failures = [];
let calls = 0;

function describe(e) {
  if (e instanceof Error) return `${e.name} code=${String(e.code)}: ${e.message.slice(0, 160)}`;
  return `non-Error ${typeof e}`;
}

/** Call fn; a throw must be a coded Error (of `code` when given) and leave state() as it was. */
function probe(label, fn, state, code) {
  calls++;
  const before = state ? state() : undefined;
  let result;
  try {
    result = fn();
  } catch (e) {
    if (!(e instanceof Error) || typeof e.code !== 'string') failures.push(`${label}: codeless ${describe(e)}`);
    else if (code && e.code !== code) failures.push(`${label}: ${describe(e)}, expected ${code}`);
    else if (state) {
      let after;
      try {
        after = state();
      } catch (err) {
        after = `state unreadable: ${describe(err)}`;
      }
      if (after !== before) failures.push(`${label}: refused (${e.code}) but the state changed`);
    }
    return undefined;
  }
  if (code) failures.push(`${label}: expected ${code}, returned`);
  if (result && typeof result.then === 'function') result.then(undefined, () => {});
  return result;
}

/** Each argument position, and each field of an options object in it, replaced by each hostile value. */
function variants(args) {
  const out = [];
  const n = Math.max(args.length + 1, 3);
  for (let i = 0; i < n; i++) {
    for (const [hname, h] of hostiles()) {
      const a = args.slice();
      a[i] = h;
      out.push([`arg ${i} = ${hname}`, a]);
    }
    const v = args[i];
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype) {
      for (const key of Object.keys(v)) {
        for (const [hname, h] of hostiles()) {
          const a = args.slice();
          a[i] = { ...v, [key]: h };
          out.push([`arg ${i}.${key} = ${hname}`, a]);
        }
      }
    }
  }
  return out;
}

function isClass(v) {
  return typeof v === 'function' && /^class\b/.test(Function.prototype.toString.call(v));
}

function members(Class) {
  const out = new Map();
  for (let proto = Class.prototype; proto && proto !== Object.prototype && proto !== Error.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const key of Reflect.ownKeys(proto)) {
      if (key === 'constructor' || out.has(key)) continue;
      out.set(key, Object.getOwnPropertyDescriptor(proto, key));
    }
  }
  return out;
}

const only = process.argv[2] ? new Set(process.argv[2].split(',')) : undefined;
const missing = [];
for (const [name, value] of Object.entries(exportsByName)) {
  if (typeof value !== 'function') continue;
  if (only && !only.has(name)) continue;
  const r = recipes[name];
  if (process.env.PUBLIC_ENTRY_TRACE) process.stderr.write(`${name} ${calls} ${process.uptime().toFixed(1)}s\n`);
  if (!r) {
    missing.push(name);
    continue;
  }
  if (!isClass(value)) {
    for (const [label, a] of variants(r.args())) {
      const out = probe(`${name}(${label})`, () => value(...a), mappingState);
      if (r.after) r.after(out);
    }
    continue;
  }
  // Constructor: every argument and option hostile; `new` without arguments too.
  for (const [label, a] of variants(r.ctor())) {
    const out = probe(`new ${name}(${label})`, () => new value(...a), mappingState);
    // A constructor that accepted these arguments must not defer a codeless error to its getters.
    if (out && typeof out === 'object') {
      for (const [key, d] of members(value)) {
        const f = d.get ?? (typeof d.value === 'function' && d.value.length === 0 && !/^(close|unmap|start|stop|step|cycle|scavengeAll)$/.test(String(key)) ? d.value : undefined);
        if (f) probe(`(new ${name}(${label})).${String(key)}`, () => Reflect.apply(f, out, []));
      }
    }
    if (r.after && out) r.after(out);
  }
  for (const [key, d] of members(value)) {
    const k = String(key);
    if (process.env.PUBLIC_ENTRY_TRACE) process.stderr.write(`  .${k} ${calls} ${process.uptime().toFixed(1)}s\n`);
    const fns = typeof d.value === 'function' ? [['', d.value]] : [['get ', d.get], ['set ', d.set]].filter(([, f]) => f);
    for (const [kind, fn] of fns) {
      // Foreign receivers: refused before the body runs.
      const x = r.make();
      const foreign = [null, undefined, 1, 'x', Symbol('r'), 1n, {}, [], Object.create(value.prototype), value.prototype, hostiles()[6][1], hostiles()[8][1], new api.Rand(1)];
      if (name === 'Rand') foreign.pop();
      for (const recv of foreign) {
        probe(`${name}.prototype.${kind}${k} on ${typeof recv === 'symbol' ? 'Symbol' : typeof recv === 'bigint' ? '1n' : recv === value.prototype ? 'the prototype' : describeRecv(recv)}`,
          () => Reflect.apply(fn, recv, kind === 'set ' ? [0] : []), undefined, 'ERR_INVALID_THIS');
      }
      if (r.after) r.after(x);
      if (kind === 'get ') continue;
      if (r.skip && r.skip[k]) continue;
      // Hostile arguments on a fresh instance; its state must hold on refusal.
      const recipe = (r.methods && r.methods[k]) || (() => (kind === 'set ' ? [0] : []));
      for (const [label, a] of variants(recipe(r.make()))) {
        const inst = r.make();
        let args = a;
        if (r.methods && r.methods[k]) {
          // Valid arguments for this instance, then the same hostile substitution.
          const valid = r.methods[k](inst);
          const sub = variants(valid).find(([l]) => l === label);
          if (sub) args = sub[1];
        }
        probe(`${name}.${kind}${k}(${label})`, () => Reflect.apply(fn, inst, kind === 'set ' ? [args[0]] : args), r.state ? () => r.state(inst) : undefined);
        if (r.after) r.after(inst);
      }
    }
  }
  for (const [k, recipe] of Object.entries(r.statics || {})) {
    for (const [label, a] of variants(recipe())) probe(`${name}.${k}(${label})`, () => value[k](...a), mappingState);
  }
}

function describeRecv(v) {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return '[]';
  if (typeof v !== 'object') return JSON.stringify(v);
  try {
    return `an object (${Object.getPrototypeOf(v) === null ? 'null' : Object.getPrototypeOf(v).constructor.name} prototype)`;
  } catch {
    return 'a throwing Proxy';
  }
}

process.stdout.write(`${JSON.stringify({ calls, missing, failures })}\n`);
process.exit(0);
