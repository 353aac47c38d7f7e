/**
 * The misuse matrix: every call that takes memory, fed every kind of bad argument and every
 * range it does not own. Each case asserts the exact error class and code, and that neither
 * our mappings nor the VMAs holding them changed. Calls go to the raw binding, so nothing
 * in the TypeScript layer is doing the checking for the addon. Every call that reaches
 * memory takes a handle (the capability) and an offset and length inside it: a raw address,
 * a forged handle, a dead handle, or a range past the handle's own end is refused.
 */
import { binding } from '../../src/native/binding';
import { readSmaps } from '../../src/native/smaps';
import { coverage } from '../../src/native/coverage';
import { hugePageSize } from '../../src/native/host';
import { thrown, isErrorObject } from '../support/errors';

const PAGE = binding.pageSize();
const H = hugePageSize() || 2 << 20;

// Two mappings with a hole between them, one committed, one reserved only.
const a = binding.map(4 * H, H, true);
const b = binding.map(4 * H, H, false);
binding.commit(b, 0, H); // b: first huge page read/write, the rest reserved without access
const dead = binding.map(H, H, true);
binding.unmap(dead);

// Our mappings as the kernel sees them: the VMA flags over each mapping (clipped to it, so a
// neighbour that merges with it — malloc, V8 — changes nothing here) and its present pages.
function state(): string {
  const vmas = readSmaps();
  return JSON.stringify({
    vmas: [a, b].map((m) =>
      vmas
        .filter((v) => v.start < m.address + m.length && v.end > m.address)
        .map((v) => [Math.max(v.start, m.address), Math.min(v.end, m.address + m.length), v.perms, v.vmFlags.join(' ')]),
    ),
    // Present pages where the kernel can say them exactly; the smaps fallback prorates a VMA
    // that a neighbour (malloc, V8) may share and grow, so it says nothing about our mappings.
    present: [a, b].map((m) => {
      const c = coverage('self', m.address, m.address + m.length);
      return c.exact ? c.presentBytes : 'not exact without PAGEMAP_SCAN';
    }),
    mappings: binding.mappings(),
  });
}

// A VMA that is not ours: V8's heap, libc, node's own text.
const foreign = readSmaps().filter((v) => v.end - v.start >= PAGE && ![a, b].some((m) => v.start < m.address + m.length && v.end > m.address));
const libc = foreign.find((v) => /libc[.-]/.test(v.path)) ?? foreign[0];
const v8heap = foreign.find((v) => v.perms === 'rw-p' && v.path === '' && v.end - v.start >= H) ?? foreign[1];
const nodeText = foreign.find((v) => v.perms === 'r-xp' && /node$/.test(v.path)) ?? foreign[2];

type Call = (h: any, off: any, len: any) => unknown;
const rangeCalls: Record<string, Call> = {
  madvise: (h, o, l) => binding.madvise(h, o, l, 'dontneed'),
  commit: (h, o, l) => binding.commit(h, o, l),
  decommit: (h, o, l) => binding.decommit(h, o, l),
  touch: (h, o, l) => binding.touch(h, o, l),
  readPages: (h, o, l) => binding.readPages(h, o, l),
  view: (h, o, l) => binding.view(h, o, l),
};
// Things that are not a handle of this addon, though some look like one.
const notHandles: [string, unknown][] = [
  ['a raw address', a.address],
  ['a copy of a handle', { address: a.address, length: a.length }],
  ['an object inheriting from a handle', Object.create(a)],
  ['a Proxy of a handle', new Proxy(a, {})],
  ['null', null],
  ['undefined', undefined],
  ['a string', 'a'],
  ['a function', () => a],
];

interface Case {
  name: string;
  call: () => unknown;
  error: 'TypeError' | 'RangeError' | 'Error';
  code: string;
}
const cases: Case[] = [];
const T = (name: string, call: () => unknown, error: Case['error'], code: string) => cases.push({ name, call, error, code });

const badNumbers: [string, unknown, Case['error'], string][] = [
  ['a string', '4096', 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['undefined', undefined, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['null', null, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['an object', { valueOf: () => a.address }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['a bigint', BigInt(a.address), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['a boolean', true, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ['NaN', NaN, 'RangeError', 'ERR_INVALID_ARG_VALUE'],
  ['Infinity', Infinity, 'RangeError', 'ERR_INVALID_ARG_VALUE'],
  ['negative', -PAGE, 'RangeError', 'ERR_INVALID_ARG_VALUE'],
  ['fractional', PAGE + 0.5, 'RangeError', 'ERR_INVALID_ARG_VALUE'],
  ['beyond 2^53', 2 ** 53, 'RangeError', 'ERR_INVALID_ARG_VALUE'],
  ['-0 + unaligned', 1, 'RangeError', 'ERR_INVALID_ARG_VALUE'],
];

for (const [fn, call] of Object.entries(rangeCalls)) {
  for (const [what, value, error, code] of badNumbers) {
    T(`${fn}: offset ${what}`, () => call(a, value, PAGE), error, code);
    T(`${fn}: length ${what}`, () => call(a, 0, value), error, code);
  }
  for (const [what, value] of notHandles) T(`${fn}: handle is ${what}`, () => call(value, 0, PAGE), 'TypeError', 'ERR_INVALID_ARG_TYPE');
  T(`${fn}: offset not page aligned`, () => call(a, 8, PAGE), 'RangeError', 'ERR_INVALID_ARG_VALUE');
  T(`${fn}: length not page aligned`, () => call(a, 0, PAGE + 1), 'RangeError', 'ERR_INVALID_ARG_VALUE');
  T(`${fn}: zero length`, () => call(a, 0, 0), 'RangeError', 'ERR_INVALID_ARG_VALUE');
  T(`${fn}: huge length`, () => call(a, 0, 2 ** 52), 'RangeError', 'ERR_OUT_OF_RANGE');
  T(`${fn}: offset at the end`, () => call(a, a.length, PAGE), 'RangeError', 'ERR_OUT_OF_RANGE');
  T(`${fn}: offset near 2^53 (no wrap)`, () => call(a, 2 ** 53 - PAGE, PAGE), 'RangeError', 'ERR_OUT_OF_RANGE');
  T(`${fn}: range running past the end`, () => call(a, a.length - PAGE, 2 * PAGE), 'RangeError', 'ERR_OUT_OF_RANGE');
  T(`${fn}: range reaching into the next mapping`, () => call(a, 0, a.length + H), 'RangeError', 'ERR_OUT_OF_RANGE');
  T(`${fn}: a handle after unmap`, () => call(dead, 0, PAGE), 'Error', 'ERR_HUGESPAN_UNMAPPED');
}
for (const advice of ['HUGEPAGE', '', 'mergeable', 'collapse ', 'remove']) {
  T(`madvise: unknown advice '${advice}'`, () => binding.madvise(a, 0, PAGE, advice), 'TypeError', 'ERR_INVALID_ARG_VALUE');
}
for (const advice of [14, undefined, null, Symbol('hugepage')]) {
  T(`madvise: advice of type ${typeof advice}`, () => binding.madvise(a, 0, PAGE, advice as any), 'TypeError', 'ERR_INVALID_ARG_TYPE');
}
for (const [what, value] of notHandles) T(`unmap: handle is ${what}`, () => binding.unmap(value as any), 'TypeError', 'ERR_INVALID_ARG_TYPE');
T('unmap: twice', () => binding.unmap(dead), 'Error', 'ERR_HUGESPAN_UNMAPPED');
T("unmap: V8's heap address", () => binding.unmap(v8heap.start as any), 'TypeError', 'ERR_INVALID_ARG_TYPE');
T('unmap: libc address', () => binding.unmap(libc.start as any), 'TypeError', 'ERR_INVALID_ARG_TYPE');
for (const [what, value] of notHandles) T(`committed: handle is ${what}`, () => binding.committed(value as any), 'TypeError', 'ERR_INVALID_ARG_TYPE');
for (const [what, value, error, code] of badNumbers) T(`map: length ${what}`, () => binding.map(value as any), error, code);
T('map: zero length', () => binding.map(0), 'RangeError', 'ERR_INVALID_ARG_VALUE');
T('map: more address space than a process can be given (limits().maxMap)', () => binding.map(2 ** 52), 'RangeError', 'ERR_OUT_OF_RANGE');
T('map: align not a power of two', () => binding.map(PAGE, 3 * PAGE), 'RangeError', 'ERR_INVALID_ARG_VALUE');
T('map: align below the page', () => binding.map(PAGE, 512), 'RangeError', 'ERR_INVALID_ARG_VALUE');
T('map: align above 1 GiB', () => binding.map(PAGE, 2 ** 31), 'RangeError', 'ERR_INVALID_ARG_VALUE');
T('map: commit not a boolean', () => binding.map(PAGE, PAGE, 1 as any), 'TypeError', 'ERR_INVALID_ARG_TYPE');
for (const pid of [-1, 0, 1.5, 2 ** 40, NaN]) T(`smaps: pid ${pid}`, () => binding.smaps(pid), 'RangeError', 'ERR_INVALID_ARG_VALUE');
for (const pid of ['me', null, {}]) T(`smaps: pid ${String(pid)}`, () => binding.smaps(pid as any), 'TypeError', 'ERR_INVALID_ARG_TYPE');
T('smaps: a pid that does not exist', () => binding.smaps(4194304), 'Error', 'ENOENT');
T('pagemapScan: end before start', () => binding.pagemapScan('self', 2 * PAGE, PAGE), 'RangeError', 'ERR_INVALID_ARG_VALUE');
T('pagemapScan: unaligned start', () => binding.pagemapScan('self', 1, PAGE), 'RangeError', 'ERR_INVALID_ARG_VALUE');
T('pagemapScan: a pid that does not exist', () => binding.pagemapScan(4194304, 0, PAGE), 'Error', 'ENOENT');
T('parseSmaps: a number', () => binding.parseSmaps(42 as any), 'TypeError', 'ERR_INVALID_ARG_TYPE');
T('parseSmaps: a field before any header', () => binding.parseSmaps('Rss: 4 kB\n'), 'Error', 'ERR_HUGESPAN_SMAPS_PARSE');
T('readProc: a file outside the allowed set', () => binding.readProc('self', 'environ' as any), 'TypeError', 'ERR_INVALID_ARG_VALUE');
const ranges = (...r: number[]) => new Float64Array(r);
T('randomReads: handles not an array', () => binding.randomReads(a as any, ranges(0, PAGE), 10, 1), 'TypeError', 'ERR_INVALID_ARG_TYPE');
T('randomReads: ranges not a Float64Array', () => binding.randomReads([a], [0, PAGE] as any, 10, 1), 'TypeError', 'ERR_INVALID_ARG_TYPE');
T('randomReads: a raw address for a handle', () => binding.randomReads([v8heap.start as any], ranges(0, PAGE), 10, 1), 'TypeError', 'ERR_INVALID_ARG_TYPE');
T('randomReads: a dead handle', () => binding.randomReads([dead], ranges(0, PAGE), 10, 1), 'Error', 'ERR_HUGESPAN_UNMAPPED');
T('randomReads: reserved range', () => binding.randomReads([b], ranges(H, PAGE), 10, 1), 'RangeError', 'ERR_HUGESPAN_NOT_COMMITTED');
T('randomReads: range past its mapping', () => binding.randomReads([a], ranges(a.length - PAGE, 2 * PAGE), 10, 1), 'RangeError', 'ERR_OUT_OF_RANGE');
T('randomReads: one pair too few', () => binding.randomReads([a, a], ranges(0, PAGE), 10, 1), 'RangeError', 'ERR_INVALID_ARG_VALUE');
T('randomReads: no ranges', () => binding.randomReads([], ranges(), 10, 1), 'RangeError', 'ERR_INVALID_ARG_VALUE');
T('randomReads: count above the per-call bound', () => binding.randomReads([a], ranges(0, PAGE), 2 ** 28 + 1, 1), 'RangeError', 'ERR_OUT_OF_RANGE');
T('randomReads: count 2^53 - 1', () => binding.randomReads([a], ranges(0, PAGE), 2 ** 53 - 1, 1), 'RangeError', 'ERR_OUT_OF_RANGE');
T('randomReads: count NaN', () => binding.randomReads([a], ranges(0, PAGE), NaN, 1), 'RangeError', 'ERR_INVALID_ARG_VALUE');
T('view: longer than the runtime allows and than its mapping', () => binding.view(a, 0, binding.limits().maxView + PAGE), 'RangeError', 'ERR_OUT_OF_RANGE');
T('setThpDisabled: not a boolean', () => binding.setThpDisabled(1 as any), 'TypeError', 'ERR_INVALID_ARG_TYPE');

describe(`the addon refuses misuse (${cases.length} cases) and changes nothing`, () => {
  const before = state();
  it('has at least 100 distinct cases', () => {
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    expect(cases.length).toBeGreaterThanOrEqual(100);
  });
  it.each(cases.map((c) => [c.name, c]))('%s', (_name, c) => {
    const err = thrown((c as Case).call);
    expect(isErrorObject(err)).toBe(true);
    expect({ name: err.name, code: err.code }).toEqual({ name: (c as Case).error, code: (c as Case).code });
    expect(typeof err.message).toBe('string');
    expect(state()).toBe(before);
  });
});

afterAll(() => {
  binding.unmap(a);
  binding.unmap(b);
});
