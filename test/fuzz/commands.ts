/**
 * The fuzzer's commands: every public call of hugespan's native layer and its raw binding,
 * as plain JSON steps (so a sequence prints, replays in a fresh process and shrinks), each
 * applied to the model (model.ts) and to the real thing, then checked against the kernel
 * (kernel.ts). Invariant: a step never assumes its call succeeds: what it expects (success or
 * an error, and then an error with a string `code`) comes from the model alone, and any other
 * outcome is a Mismatch. Families group steps by what they exercise; FAMILIES names the issue
 * items each one is known to hit, and ENABLED (run by npm test) lists those that pass today.
 */
import fc from 'fast-check';
import { Worker } from 'node:worker_threads';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { binding, addonFile } from '../../dist/native/binding';
import { Mapping } from '../../dist/native/mapping';
import { readSmaps, readSmapsRollup, vmaAt } from '../../dist/native/smaps';
import { coverage } from '../../dist/native/coverage';
import { LinuxMemory } from '../../dist/sys/linux';
import { FakeMemory } from '../../dist/sys/fake';
import { Sys } from '../../dist/sys/sys';
import { MHeap } from '../../dist/heap/mheap';
import { Span, hugePagesIn } from '../../dist/heap/span';
import { PageAlloc } from '../../dist/heap/pagealloc';
import { frameTruth } from '../../dist/verify/frames';
import { verify } from '../../dist/verify/report';
import { meaningOf } from '../../dist/account/reasons';
import * as M from './model';
import { Model, MapModel } from './model';
import { Real, Mismatch, P, check } from './kernel';

/**
 * Step families and the issue-21 items they reproduce on the code before the fixes. A family
 * with items listed crashes, hangs or mismatches today; npm test runs ENABLED only.
 */
export const FAMILIES = {
  core: [], // map/unmap/commit/decommit/madvise/touch/readPages/view/write/randomReads on committed ranges, settle (gc)
  collapse: [], // MADV_COLLAPSE on a mapping
  transfer: [], // a view's buffer moved (ArrayBuffer.prototype.transfer) and held; structuredClone
  smaps: [], // smapsStream/next/close, readSmaps, rollup, coverage and pagemapScan of own mappings
  badArgs: [], // out-of-range / unaligned / wrong-typed offsets, Proxies and getters as arguments
  heap: [], // MHeap alloc/free over FakeMemory, its invariants after each step
  uncommitted: [1], // touch/readPages/view/randomReads on ranges not wholly committed: SIGSEGV, or a view over no-access pages
  reentrantReads: [2], // binding.randomReads with a handles element whose getter unmaps / detaches mid-call
  workerTerminate: [3], // worker.terminate() while the worker is inside an addon call: abort
  unbounded: [4, 5], // frameTruth with h = -1 (V8 OOM abort) or 1n (codeless), PageAlloc.count over 2^53 pages (hang), 200+ dropped smaps streams (a thread each)
  droppedViews: [6, 7], // a view dropped and collected before unmap/decommit: pages stay rw, keeping stays up
  transferDropped: [6, 7], // a moved buffer freed: after decommit its pages stay rw; after unmap `keeping` stays up while the Mapping lives
  workerExit: [8], // a worker's view at exit: its pages orphaned though they never left the thread
  forgedSpan: [9], // MHeap.free of a forged Span
  foreignReceivers: [10], // methods on foreign receivers and the TS layers' bad arguments: codeless errors
  secondCopy: [11], // a smaps stream from another copy of the addon: accepted
  proxyArgs: [10], // a Proxy whose traps throw as an argument: the TS layer's message builder runs the trap (codeless)
  selfTest: [], // never generated: steps that plant a crash or a lie, to prove the harness sees them (replay only)
} as const;
export type Family = keyof typeof FAMILIES;

/**
 * The families npm test's fixed-seed pass runs: every one whose issue-21 items are fixed, which
 * is all of them, but two kept to `npm run fuzz:model` (they pass there): `unbounded`, whose steps
 * each do the most work a call may (hundreds of smaps streams, each a thread reading this
 * process's smaps: minutes a seed), and `workerTerminate`, which can meet Node 20's own rare
 * use-after-free at worker teardown (README, "known limit") — a crash in Node, not in hugespan.
 */
export const ENABLED: Family[] = (Object.keys(FAMILIES) as Family[]).filter((f) => f !== 'selfTest' && f !== 'unbounded' && f !== 'workerTerminate');

export type Step = { t: string; f: Family; [k: string]: unknown };

// ---- calling ------------------------------------------------------------------------------

type Expect = 'ok' | 'throws' | 'either' | string; // a string other than these: that exact code

interface Outcome<T> {
  ok: boolean;
  value?: T;
  error?: any;
}

/** Every error must carry a string code; the outcome must be the one the model expects. */
export function expectCall<T>(what: string, fn: () => T, expect: Expect): Outcome<T> {
  let value: T;
  try {
    value = fn();
  } catch (e: any) {
    if (e instanceof Mismatch) throw e;
    if (!e || typeof e.code !== 'string') throw new Mismatch(`${what} threw an error without a string code: ${String(e?.stack ?? e).split('\n').slice(0, 3).join(' | ')}`);
    if (expect === 'ok') throw new Mismatch(`${what} threw ${e.code} (${e.message}); the model expected success`);
    if (expect !== 'throws' && expect !== 'either' && e.code !== expect) throw new Mismatch(`${what} threw ${e.code} (${e.message}); the model expected ${expect}`);
    return { ok: false, error: e };
  }
  if (expect !== 'ok' && expect !== 'either') throw new Mismatch(`${what} returned; the model expected ${expect === 'throws' ? 'an error' : expect}`);
  return { ok: true, value };
}

async function expectAsync<T>(what: string, fn: () => Promise<T>, expect: Expect): Promise<Outcome<T>> {
  let value: T;
  try {
    value = await fn();
  } catch (e: any) {
    return expectCall(what, () => {
      throw e;
    }, expect);
  }
  return expectCall(what, () => value, expect);
}

const handleOf = (real: Real, x: MapModel): any => (x.via === 'class' ? undefined : real.objs[x.id]);

/** A page range of x from two free numbers: always inside, at least one page. */
function range(x: MapModel, a: number, b: number): [number, number] {
  const s = a % x.pages;
  return [s, s + 1 + (b % (x.pages - s))];
}

/** The four range calls, through the Mapping or the raw handle. */
function rangeCall(real: Real, x: MapModel, op: 'commit' | 'decommit' | 'touch' | 'readPages' | 'view', off: unknown, len: unknown): unknown {
  if (x.via === 'class') return (real.objs[x.id] as any)[op](off, len);
  return (binding as any)[op](real.objs[x.id], off, len);
}

export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    (globalThis as any).gc();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 1));
  }
}

let heapState: { heap: MHeap; spans: Span[]; pages: number } | undefined;
export function resetHeap(): void {
  heapState = undefined;
}

let copy: any;
/** A second copy of the addon file (another version of hugespan in the process). */
function secondCopy(): any {
  if (!copy) {
    const file = path.join(os.tmpdir(), `hugespan-fuzz-copy-${process.pid}.node`);
    fs.copyFileSync(addonFile(), file);
    copy = require(file);
    fs.rmSync(file, { force: true });
  }
  return copy;
}

function workerCode(body: string): string {
  return `const binding = require(${JSON.stringify(addonFile())}); const { parentPort } = require('node:worker_threads');\n${body}`;
}

// ---- the steps ----------------------------------------------------------------------------

/** Whether the step can run on this model (fast-check skips it otherwise, in a run and a replay). */
export function allowed(s: Step, m: Model): boolean {
  const live = M.liveMaps(m);
  switch (s.t) {
    case 'map':
    case 'settle':
    case 'smapsStream':
    case 'readSmaps':
    case 'foreign':
    case 'unbounded':
    case 'dropStreams':
    case 'workerExit':
    case 'workerTerminate':
    case 'heapAlloc':
    case 'heapFree':
    case 'forgedSpan':
    case 'secondCopy':
    case 'rrGetter':
      return live.length < 24;
    case 'unmap':
    case 'commit':
    case 'decommit':
    case 'madvise':
    case 'badArgs':
    case 'coverage':
    case 'proxyArg':
    case 'selfLie':
      return live.length > 0;
    case 'touch':
    case 'readPages':
    case 'view':
    case 'randomReads': {
      const x = M.pick(live, s.k as number);
      if (!x) return false;
      const [a, b] = range(x, s.a as number, s.b as number);
      // Outside 'uncommitted', only ranges the model says are wholly committed.
      return s.f === 'uncommitted' ? !M.covers(x.committed, a, b) : M.covers(x.committed, a, b);
    }
    case 'write':
    case 'transfer':
    case 'clone':
    case 'dropView':
      return m.views.some((v) => v.state !== 'gone');
    default:
      return true;
  }
}

/** Applies the step to the model and the real thing. Returns whether a settle happened. */
export async function apply(s: Step, m: Model, real: Real): Promise<boolean> {
  const live = M.liveMaps(m);
  const x = M.pick(live, (s.k as number) ?? 0);
  const tag = `${s.t}`;
  switch (s.t) {
    case 'map': {
      const pages = s.pages as number;
      const align = s.align as 'page' | 'hugepage' | number;
      const r = expectCall(tag, () => (s.via === 'class' ? new Mapping(pages * P, { align, commit: s.commit as boolean }) : binding.map(pages * P, align === 'page' ? undefined : align === 'hugepage' ? 2 << 20 : align, s.commit as boolean)), 'ok');
      M.addMap(m, s.via as MapModel['via'], pages, s.commit as boolean);
      real.objs.push(r.value);
      return false;
    }
    case 'unmap': {
      const u = x!;
      expectCall(tag, () => (u.via === 'class' ? real.objs[u.id].unmap() : binding.unmap(real.objs[u.id])), 'ok');
      M.unmap(m, u);
      // A second unmap is refused with a code and changes nothing.
      expectCall('unmap again', () => (u.via === 'class' ? real.objs[u.id].unmap() : binding.unmap(real.objs[u.id])), 'ERR_HUGESPAN_UNMAPPED');
      return false;
    }
    case 'commit':
    case 'decommit': {
      const [a, b] = range(x!, s.a as number, s.b as number);
      expectCall(tag, () => rangeCall(real, x!, s.t as 'commit', a * P, (b - a) * P), 'ok');
      if (s.t === 'commit') M.commit(x!, a, b);
      else M.decommit(m, x!, a, b);
      for (const v of m.views) if (v.state === 'detached' && real.views.get(v.id)?.byteLength) throw new Mismatch(`view#${v.id} over decommitted pages still has ${real.views.get(v.id)!.byteLength} bytes`);
      return false;
    }
    case 'madvise': {
      const [a, b] = range(x!, s.a as number, s.b as number);
      const advice = s.advice as string;
      // Advice on no-access pages: the kernel accepts all but collapse (which may refuse EINVAL/EAGAIN/ENOMEM).
      const expect = advice === 'collapse' ? 'either' : 'ok';
      const call = () => (x!.via === 'class' ? real.objs[x!.id].advise(advice, a * P, (b - a) * P) : binding.madvise(real.objs[x!.id], a * P, (b - a) * P, advice));
      const r = expectCall(`${tag} ${advice}`, call, expect);
      for (let p = a; p < b; p++) {
        if (advice === 'dontneed') x!.present[p] = 0;
        if (advice === 'free' && x!.present[p] === 1) x!.present[p] = 2;
        if (advice === 'collapse' && (r.ok || x!.present[p] !== 0)) x!.present[p] = 2;
      }
      return false;
    }
    case 'touch':
    case 'readPages': {
      const [a, b] = range(x!, s.a as number, s.b as number);
      const ok = M.covers(x!.committed, a, b);
      const r = expectCall(tag, () => rangeCall(real, x!, s.t as 'touch', a * P, (b - a) * P), ok ? 'ok' : 'ERR_HUGESPAN_NOT_COMMITTED');
      if (r.ok) for (let p = a; p < b; p++) x!.present[p] = s.t === 'touch' ? 1 : x!.present[p] || 2;
      return false;
    }
    case 'view': {
      const [a, b] = range(x!, s.a as number, s.b as number);
      const ok = M.covers(x!.committed, a, b);
      const r = expectCall(tag, () => rangeCall(real, x!, 'view', a * P, (b - a) * P) as Uint8Array, ok ? 'ok' : 'ERR_HUGESPAN_NOT_COMMITTED');
      if (r.ok) {
        if (r.value!.byteLength !== (b - a) * P) throw new Mismatch(`view of ${b - a} pages has ${r.value!.byteLength} bytes`);
        const v = M.addView(m, x!, a, b - a);
        real.views.set(v.id, r.value!);
      }
      return false;
    }
    case 'write': {
      const held = m.views.filter((v) => v.state === 'local' || v.state === 'detached' || v.state === 'escaped');
      const v = M.pick(held, s.k as number);
      if (!v) return false;
      const buf = v.state === 'escaped' ? new Uint8Array(real.moved.get(v.id)!) : real.views.get(v.id)!;
      const page = (s.a as number) % v.pages;
      if (v.state === 'detached') {
        if (buf.byteLength !== 0) throw new Mismatch(`view#${v.id}, detached by the model, still has ${buf.byteLength} bytes`);
        return false;
      }
      if (buf.byteLength !== v.pages * P) throw new Mismatch(`view#${v.id} (${v.state}) has ${buf.byteLength} bytes, the model ${v.pages * P}`);
      buf[page * P + ((s.b as number) % P)] = (s.byte as number) & 0xff;
      const owner = m.maps[v.map];
      if (owner.live) owner.present[v.off + page] = 1;
      return false;
    }
    case 'transfer': {
      const local = m.views.filter((v) => v.state === 'local');
      const v = M.pick(local, s.k as number);
      if (!v) return false;
      const u8 = real.views.get(v.id)!;
      const moved = expectCall(tag, () => (u8.buffer as any).transfer() as ArrayBuffer, 'ok').value!;
      if (u8.byteLength !== 0 || moved.byteLength !== v.pages * P) throw new Mismatch(`transfer: the original has ${u8.byteLength} bytes, the moved one ${moved.byteLength}`);
      real.views.delete(v.id);
      real.moved.set(v.id, moved);
      v.state = 'escaped';
      v.escapedOnce = true;
      return false;
    }
    case 'clone': {
      const v = M.pick(m.views.filter((w) => w.state === 'local'), s.k as number);
      if (!v) return false;
      const u8 = real.views.get(v.id)!;
      // structuredClone with a transfer list: Node copies an external buffer; the view stays as it was.
      const r = expectCall(tag, () => structuredClone(u8.buffer, { transfer: [u8.buffer as ArrayBuffer] }), 'either');
      if (r.ok && u8.byteLength === 0) throw new Mismatch('structuredClone detached an addon view');
      return false;
    }
    case 'dropView': {
      const v = M.pick(m.views.filter((w) => w.state === s.which), s.k as number);
      if (!v) return false;
      real.views.delete(v.id);
      real.moved.delete(v.id);
      v.state = v.state === 'detached' ? 'detachedDropped' : 'dropped';
      if (s.gc) (globalThis as any).gc();
      return false;
    }
    case 'randomReads': {
      const [a, b] = range(x!, s.a as number, s.b as number);
      const ok = M.covers(x!.committed, a, b);
      const expect = ok ? 'ok' : 'ERR_HUGESPAN_NOT_COMMITTED';
      const n = (s.count as number) % 5000;
      const r =
        x!.via === 'class'
          ? expectCall('Mapping.randomReads', () => Mapping.randomReads([[real.objs[x!.id], a * P, (b - a) * P]], n, 7), expect)
          : expectCall('binding.randomReads', () => binding.randomReads([real.objs[x!.id]], new Float64Array([a * P, (b - a) * P]), n, 7), expect);
      if (r.ok && r.value!.reads !== n) throw new Mismatch(`randomReads did ${r.value!.reads} reads, asked ${n}`);
      if (r.ok && n) for (let p = a; p < b; p++) x!.present[p] = x!.present[p] || 2;
      return false;
    }
    case 'settle':
      await settle();
      M.settle(m);
      return true;
    case 'badArgs':
      badArgs(s, m, real, x!);
      return false;
    case 'coverage': {
      const base = real.objs[x!.id].address;
      const c = expectCall('coverage', () => coverage('self', base, base + x!.pages * P), 'ok').value!;
      const touched = x!.present.filter((p) => p === 1).length * P;
      if (c.presentBytes < touched) throw new Mismatch(`coverage: ${c.presentBytes} bytes present, the model touched ${touched}`);
      return false;
    }
    case 'smapsStream': {
      const st = expectCall('smapsStream', () => binding.smapsStream('self', (s.minAnon as number) * P, (s.minSize as number) * P), 'ok').value!;
      for (let i = 0; i < (s.next as number); i++) {
        const r = expectCall('smapsNext', () => binding.smapsNext(st), 'ok').value! as any;
        if (r.done) {
          expectCall('smapsNext after done', () => binding.smapsNext(st), 'either');
          break;
        }
      }
      if (s.close) {
        expectCall('smapsClose', () => binding.smapsClose(st), 'ok');
        expectCall('smapsNext after close', () => binding.smapsNext(st), 'either'); // the end, or ECANCELED
      }
      return false;
    }
    case 'readSmaps': {
      const vmas = expectCall('readSmaps', () => readSmaps('self'), 'ok').value!;
      for (const y of live) {
        const v = vmaAt(vmas, real.objs[y.id].address);
        if (!v) throw new Mismatch(`readSmaps has no VMA at live map#${y.id}`);
      }
      expectCall('readSmapsRollup', () => readSmapsRollup('self'), 'ok');
      return false;
    }
    case 'rrGetter':
      rrGetter(s, m, real);
      return false;
    case 'foreign':
      foreign(s);
      return false;
    case 'proxyArg': {
      const trap = new Proxy({}, { get() { throw new Error('proxy trap ran'); }, getPrototypeOf() { throw new Error('proxy trap ran'); } });
      const op = (['commit', 'decommit', 'touch', 'readPages', 'view'] as const)[(s.a as number) % 5];
      expectCall(`${op}(a Proxy whose traps throw)`, () => rangeCall(real, x!, op, trap, P), 'throws');
      if (x!.via === 'binding') expectCall('binding.commit(a Proxy whose traps throw as handle)', () => binding.commit(trap as any, 0, P), 'throws');
      return false;
    }
    case 'selfCrash':
      if (process.env.HUGESPAN_FUZZ_SELFTEST === '1') process.abort();
      return false;
    case 'selfLie':
      // The model believes a commit the kernel never saw: the next check must say so.
      if (process.env.HUGESPAN_FUZZ_SELFTEST === '1') M.commit(x!, 0, 1);
      return false;
    case 'unbounded':
      unbounded(s);
      return false;
    case 'dropStreams':
      await dropStreams(s, m, real);
      return true;
    case 'workerExit':
      await workerExit(s, m);
      return false;
    case 'workerTerminate':
      await workerTerminate(s, m);
      return false;
    case 'heapAlloc':
    case 'heapFree':
    case 'forgedSpan':
      heapStep(s);
      return false;
    case 'secondCopy': {
      const other = secondCopy();
      const st = other.smapsStream('self');
      expectCall('smapsNext(a stream of another copy)', () => binding.smapsNext(st), 'ERR_INVALID_ARG_TYPE');
      other.smapsClose(st);
      const h = other.map(P, undefined, true);
      expectCall('commit(a handle of another copy)', () => binding.commit(h, 0, P), 'ERR_INVALID_ARG_TYPE');
      other.unmap(h); // the copy counts in its own counters, not ours
      return false;
    }
  }
  throw new Error(`unknown step ${s.t}`);
}

/** Arguments the API must refuse with a code, changing nothing (the kernel check after proves it). */
function badArgs(s: Step, m: Model, real: Real, x: MapModel): void {
  const len = x.pages * P;
  const other = M.pick(M.liveMaps(m), (s.k as number) + 1)!;
  const values: unknown[] = [-P, len + P, len, P / 2, 2 ** 53, 2 ** 64, NaN, -0.5, Infinity, '4096', null, {}, 1n, Symbol('x'),
    { valueOf() { throw new Error('valueOf ran'); } },
    new Proxy({}, {})];
  const v = values[(s.a as number) % values.length];
  const op = (['commit', 'decommit', 'touch', 'readPages', 'view'] as const)[(s.b as number) % 5];
  const which = (s.c as number) % 3;
  const args: [unknown, unknown] = which === 0 ? [v, P] : which === 1 ? [0, v] : [v, v];
  // length === x's own length at offset 0 is valid; everything else here is not.
  if (args[0] === 0 && args[1] === len) return; // the whole mapping: valid
  expectCall(`${op}(${String(typeof v === 'symbol' ? 'Symbol' : typeof v === 'bigint' ? '1n' : typeof v === 'object' && v ? 'object' : v)}) on map#${x.id}`, () => rangeCall(real, x, op, args[0], args[1]), 'throws');
  // Hostile handles for the raw binding: a Proxy over a real handle, a clone, Object.create, a getter that unmaps.
  const h = handleOf(real, x);
  if (h) {
    const fakes = [new Proxy(h, {}), { ...h }, Object.create(h), { address: h.address, length: h.length }];
    expectCall('commit(fake handle)', () => binding.commit(fakes[(s.c as number) % fakes.length], 0, P), 'ERR_INVALID_ARG_TYPE');
  }
  // An options getter that unmaps another mapping while Mapping's constructor reads it.
  if (s.c === 0 && other.via === 'class' && other.live) {
    const o = other;
    const r = expectCall('new Mapping(getter options)', () => new Mapping(P, { get commit() { real.objs[o.id].unmap(); M.unmap(m, o); return true; } } as any), 'either');
    if (r.ok) {
      M.addMap(m, 'class', 1, true);
      real.objs.push(r.value);
    }
  }
}

/** binding.randomReads whose handles[1] is a getter: unmap handles[0]'s mapping, or detach `ranges`. */
function rrGetter(s: Step, m: Model, real: Real): void {
  const a = binding.map(P, undefined, true);
  const b = binding.map(P, undefined, true);
  const xa = M.addMap(m, 'binding', 1, true);
  real.objs.push(a);
  M.addMap(m, 'binding', 1, true);
  real.objs.push(b);
  const ranges = new Float64Array([0, P, 0, P]);
  const handles: unknown[] = [a];
  let ran = false;
  Object.defineProperty(handles, 1, {
    enumerable: true,
    get() {
      if (ran) return b;
      ran = true;
      if (s.how === 'unmap') {
        binding.unmap(a);
        M.unmap(m, xa);
      } else {
        (ranges.buffer as any).transfer(); // detached; the moved store is dropped and collected at once
        (globalThis as any).gc();
      }
      return b;
    },
  });
  expectCall(`randomReads(handles[1] getter that ${s.how === 'unmap' ? 'unmaps handles[0]' : 'detaches ranges'})`, () => binding.randomReads(handles as any, ranges, 1000, 3), 'either');
  // The same through Mapping.randomReads: parts[1]'s offset is a getter that unmaps parts[0]'s mapping.
  const ma = new Mapping(P, { commit: true });
  const mb = new Mapping(P, { commit: true });
  const xma = M.addMap(m, 'class', 1, true);
  real.objs.push(ma);
  M.addMap(m, 'class', 1, true);
  real.objs.push(mb);
  const part: unknown[] = [mb, 0, P];
  let ranOnce = false;
  Object.defineProperty(part, 1, {
    get() {
      if (!ranOnce) {
        ranOnce = true;
        ma.unmap();
        M.unmap(m, xma);
      }
      return 0;
    },
  });
  expectCall('Mapping.randomReads(parts[1][1] getter that unmaps parts[0])', () => Mapping.randomReads([[ma, 0, P], part as any], 1000, 3), 'either');
}

const FOREIGN: [string, () => unknown][] = [
  ['Mapping.prototype.live on {}', () => Object.getOwnPropertyDescriptor(Mapping.prototype, 'live')!.get!.call({})],
  ['Mapping.prototype.commit.call({})', () => Mapping.prototype.commit.call({} as any, 0, P)],
  ['Mapping.randomReads([[Object.create(Mapping.prototype), 0, P]])', () => Mapping.randomReads([[Object.create(Mapping.prototype), 0, P]], 1)],
  ['LinuxMemory.prototype.unmap.call({})', () => (LinuxMemory.prototype as any).unmap.call({}, 0, P)],
  ["coverage('self', s, e, null)", () => coverage('self', P, 2 * P, null as any)],
  ['new Sys(null)', () => new Sys(null as any)],
  ['new MHeap(sys, { arenaBytes: 2**50 })', () => new MHeap(new Sys(new FakeMemory()), { arenaBytes: 2 ** 50 })],
  ['new PageAlloc(2**40)', () => new PageAlloc(2 ** 40)],
  ['pa.grow(-5)', () => new PageAlloc(1024).grow(-5)],
  ['new FakeMemory().reserve(1e15, 4096)', () => (new FakeMemory() as any).reserve(1e15, 4096)],
  ['verify(null)', () => verify(null as any)],
  ["meaningOf('x')", () => meaningOf('x' as any)],
  ['hugePagesIn(Symbol())', () => (hugePagesIn as any)(Symbol())],
  ['vmaAt(null, 0)', () => vmaAt(null as any, 0)],
];

function foreign(s: Step): void {
  const [what, fn] = FOREIGN[(s.a as number) % FOREIGN.length];
  expectCall(what, fn, 'throws');
}

function unbounded(s: Step): void {
  const calls: [string, () => unknown][] = [
    ['frameTruth(0, 2 MiB, -1)', () => frameTruth(0, 2 << 20, -1)],
    ['frameTruth(0, 2 MiB, 1n)', () => frameTruth(0, 2 << 20, 1n as any)],
    ['new PageAlloc(1024).count(new Int32Array(32), 0, 2**53)', () => new PageAlloc(1024).count(new Int32Array(32), 0, 2 ** 53)],
  ];
  const [what, fn] = calls[(s.a as number) % calls.length];
  expectCall(what, fn, 'either');
}

function threads(): number {
  return Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]);
}

/**
 * Streams started and dropped unclosed, with no gc() in between: what they hold (a thread each)
 * must stay bounded without the test forcing a collection (issue 21, item 5: 4 000 kept 3 685).
 */
async function dropStreams(s: Step, m: Model, real: Real): Promise<void> {
  // Streams of a small smaps end at once; 4 096 VMAs make each one wait on its reader.
  const h = binding.map(4096 * P, undefined, false);
  const x = M.addMap(m, 'binding', 4096, false);
  real.objs.push(h);
  for (let p = 0; p < 4096; p += 2) binding.commit(h, p * P, P);
  x.committed = [];
  const before = threads();
  const n = 200 + ((s.a as number) % 300);
  for (let i = 0; i < n; i++) {
    const st = expectCall('smapsStream', () => binding.smapsStream('self'), 'either');
    if (st.ok) expectCall('smapsNext', () => binding.smapsNext(st.value!), 'either');
  }
  const grown = threads() - before;
  binding.unmap(h);
  M.unmap(m, x);
  await settle(); // let them go before the next step, whatever the verdict
  M.settle(m); // the collector ran: the model's dropped buffers go too (the step reports itself settled)
  if (grown > 128) throw new Mismatch(`${n} dropped smaps streams left ${grown} more threads running`);
}

/** A worker that maps 8 MiB read/write, takes a view of it and exits: nothing may be orphaned. */
async function workerExit(s: Step, m: Model): Promise<void> {
  const w = new Worker(workerCode(`const h = binding.map(${8 << 20}, undefined, true); globalThis.v = binding.view(h, 0, ${8 << 20}); globalThis.v[0] = 1; ${s.unmap ? 'binding.unmap(h);' : ''} parentPort.postMessage('ok');`), { eval: true });
  await expectAsync('worker exit', () => new Promise((res, rej) => { w.once('error', rej); w.once('exit', res); }), 'ok');
  m.mapped++;
  m.unmapped++;
}

/** A worker spinning in addon calls, terminated mid-call: the process must live on. */
async function workerTerminate(s: Step, m: Model): Promise<void> {
  const w = new Worker(workerCode(`const h = binding.map(${P}, undefined, true); parentPort.postMessage('go'); for (;;) { binding.live(h); binding.touch(h, 0, ${P}); }`), { eval: true });
  await new Promise<void>((res, rej) => { w.once('message', () => res()); w.once('error', rej); });
  await new Promise((r) => setTimeout(r, (s.ms as number) % 20));
  await w.terminate();
  m.mapped++;
  m.unmapped++;
}

/** The heap layer: MHeap over FakeMemory; spans in use are the model, checkInvariants the kernel. */
function heapStep(s: Step): void {
  if (!heapState) heapState = { heap: new MHeap(new Sys(new FakeMemory()), { arenaBytes: 64 << 20, growBytes: 16 << 20 }), spans: [], pages: 0 };
  const h = heapState;
  if (s.t === 'heapAlloc') {
    const n = 1 + ((s.a as number) % 64);
    const span = expectCall('heap.alloc', () => h.heap.alloc(n), 'either');
    if (span.ok) {
      h.spans.push(span.value!);
      h.pages += n;
    }
  } else if (s.t === 'heapFree') {
    const sp = M.pick(h.spans, s.a as number);
    if (sp) {
      const n = sp.npages; // free may coalesce into the span object
      expectCall('heap.free', () => h.heap.free(sp), 'ok');
      h.spans.splice(h.spans.indexOf(sp), 1);
      h.pages -= n;
      expectCall('heap.free again', () => h.heap.free(sp), 'throws');
    }
  } else {
    const sp = M.pick(h.spans, s.a as number);
    if (sp) {
      const forged = Object.assign(Object.create(Span.prototype), sp);
      expectCall('heap.free(a forged span)', () => h.heap.free(forged), 'throws');
    }
  }
  expectCall('heap.checkInvariants', () => h.heap.checkInvariants(), 'ok');
  const inuse = h.heap.snapshot().heapInuse;
  if (inuse !== h.pages * h.heap.pageSize) throw new Mismatch(`heap: heapInuse ${inuse}, the model's spans hold ${h.pages * h.heap.pageSize}`);
}

// ---- arbitraries and fast-check commands -------------------------------------------------

const pick = fc.nat(1 << 16);
const pagesArb = fc.constantFrom(1, 2, 3, 4, 8, 16, 64, 512, 1024);

function arbs(f: Family): fc.Arbitrary<Step>[] {
  const st = (t: string, rec: Record<string, fc.Arbitrary<unknown>> = {}) => fc.record({ t: fc.constant(t), f: fc.constant(f), ...rec }) as fc.Arbitrary<Step>;
  switch (f) {
    case 'core':
      const map = st('map', { via: fc.constantFrom('class', 'binding'), pages: pagesArb, align: fc.constantFrom('page', 'hugepage', 2 * P, 16 * P), commit: fc.boolean() });
      return [
        map,
        map,
        map,
        st('unmap', { k: pick }),
        st('commit', { k: pick, a: pick, b: pick }),
        st('commit', { k: pick, a: pick, b: pick }),
        st('decommit', { k: pick, a: pick, b: pick }),
        st('madvise', { k: pick, a: pick, b: pick, advice: fc.constantFrom('normal', 'willneed', 'dontneed', 'free', 'hugepage', 'nohugepage') }),
        st('touch', { k: pick, a: pick, b: pick }),
        st('readPages', { k: pick, a: pick, b: pick }),
        st('view', { k: pick, a: pick, b: pick }),
        st('write', { k: pick, a: pick, b: pick, byte: fc.nat(255) }),
        st('randomReads', { k: pick, a: pick, b: pick, count: pick }),
        st('dropView', { k: pick, which: fc.constant('detached'), gc: fc.boolean() }),
        st('settle'),
      ];
    case 'collapse':
      return [st('madvise', { k: pick, a: pick, b: pick, advice: fc.constant('collapse') })];
    case 'transfer':
      return [st('transfer', { k: pick }), st('clone', { k: pick })];
    case 'smaps':
      return [st('smapsStream', { minAnon: fc.nat(4), minSize: fc.nat(4), next: fc.nat(6), close: fc.boolean() }), st('readSmaps'), st('coverage', { k: pick })];
    case 'badArgs':
      return [st('badArgs', { k: pick, a: pick, b: pick, c: fc.nat(2) })];
    case 'heap':
      return [st('heapAlloc', { a: pick }), st('heapFree', { a: pick })];
    case 'uncommitted':
      return ['touch', 'readPages', 'view', 'randomReads'].map((t) => st(t, { k: pick, a: pick, b: pick, count: pick }));
    case 'reentrantReads':
      return [st('rrGetter', { how: fc.constantFrom('unmap', 'detach') })];
    case 'workerTerminate':
      return [st('workerTerminate', { ms: fc.nat(19) })];
    case 'unbounded':
      return [st('unbounded', { a: pick }), st('dropStreams', { a: pick })];
    case 'droppedViews': {
      const drop = st('dropView', { k: pick, which: fc.constant('local'), gc: fc.boolean() });
      return [drop, drop, drop];
    }
    case 'transferDropped':
      return [st('dropView', { k: pick, which: fc.constant('escaped'), gc: fc.boolean() })];
    case 'workerExit':
      return [st('workerExit', { unmap: fc.boolean() })];
    case 'forgedSpan':
      return [st('forgedSpan', { a: pick }), st('heapAlloc', { a: pick })];
    case 'foreignReceivers':
      return [st('foreign', { a: pick })];
    case 'secondCopy':
      return [st('secondCopy')];
    case 'proxyArgs':
      return [st('proxyArg', { k: pick, a: pick })];
    case 'selfTest':
      return [];
  }
}

export interface Ctx {
  model: Model;
  real: Real;
}

/** One step as a fast-check command: check() is the model's precondition, run() applies and compares. */
export class StepCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly step: Step, readonly log: (s: Step) => void) {}
  check(model: Readonly<Model>): boolean {
    return allowed(this.step, model as Model);
  }
  async run(model: Model, real: Real): Promise<void> {
    this.log(this.step);
    model.calls++;
    const settled = await apply(this.step, model, real);
    check(model, real, settled);
  }
  toString(): string {
    return JSON.stringify(this.step);
  }
}

/** The commands of the enabled families, for fc.commands. `transferDropped` also needs transfer; `droppedViews` views. */
export function commandArbs(families: readonly Family[], log: (s: Step) => void): fc.Arbitrary<fc.AsyncCommand<Model, Real>>[] {
  const set = new Set<Family>(families.length ? ['core', ...families] : ['core']);
  if (set.has('transferDropped')) set.add('transfer');
  return [...set].flatMap((f) => arbs(f).map((a) => a.map((s) => new StepCommand(s, log))));
}
