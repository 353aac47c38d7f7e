/**
 * Typed access to /proc/<pid>/smaps and smaps_rollup, parsed in C++.
 * Invariant: every numeric field is in bytes (the kernel's kB × 1024) except counts such as
 * protectionKey; fields the kernel adds later are kept under their camelCase names.
 */
import { binding, FlatBatch, FlatSmaps, RawVma } from './binding';
import { argError, elementAt, lengthOf, numberArg, objectField, received } from './args';

export type Pid = number | 'self';

export interface Vma extends RawVma {
  size: number;
  rss: number;
  pss: number;
  anonymous: number;
  anonHugePages: number;
  swap: number;
}

type Make = (nums: Float64Array, o: number, strs: string[], i: number, thp: boolean, flags: string[]) => Vma;
const makers = new Map<string, Make>();

/**
 * The function that builds a VMA with this field list: one object literal, generated once per
 * list, so every VMA gets its final shape at once (no property-by-property growth). Keys are
 * the parser's camelCase names ([A-Za-z0-9]) and go in through JSON.stringify all the same.
 */
function maker(keys: string[], ids: number[], thp: boolean): Make {
  const sig = `${thp ? 1 : 0}:${ids.map((id) => keys[id]).join(',')}`;
  let make = makers.get(sig);
  if (!make) {
    const fields = ids.map((id, k) => `${JSON.stringify(keys[id])}: v[o + ${4 + k}]`);
    const body =
      'return { start: v[o], end: v[o + 1], perms: s[4 * i], offset: v[o + 2], dev: s[4 * i + 1], inode: v[o + 3], path: s[4 * i + 2]' +
      fields.map((f) => `, ${f}`).join('') +
      `${thp ? ', thpEligible: t' : ''}, vmFlags: fl };`;
    make = new Function('v', 'o', 's', 'i', 't', 'fl', body) as Make;
    makers.set(sig, make);
  }
  return make;
}

/**
 * Visit the VMAs of the addon's flat form (see FlatSmaps) in order, each built as an object
 * when visited. A caller that does not keep them holds one at a time: a 60 000-VMA report then
 * never promotes 60 000 objects into the old generation.
 */
export function eachVma({ count, keys, shape, nums, strs }: FlatBatch, visit: (v: Vma) => void): void {
  let at = 0;
  let o = 0;
  let p = 0; // position in strs
  let make: Make | undefined;
  let last: number[] = [];
  let lastThp = -1;
  // The strings: split at once where there are few (one builtin pass is the fastest way), cut
  // out VMA by VMA where there are many, so 60 000 VMAs never hold 240 000 strings at once.
  const whole = count <= 4096 ? strs.split('\0') : undefined;
  const s: string[] = ['', '', '', ''];
  const flagSets = new Map<string, string[]>();
  for (let i = 0; i < count; i++) {
    const n = shape[at];
    const thp = shape[at + n + 1];
    // Nearly every VMA has the previous one's field list: compare ids rather than hash them.
    let same = make !== undefined && last.length === n && (thp === 0) === (lastThp === 0);
    for (let k = 0; same && k < n; k++) same = shape[at + 1 + k] === last[k];
    if (!same) {
      last = Array.from(shape.subarray(at + 1, at + 1 + n));
      lastThp = thp;
      make = maker(keys, last, thp !== 0);
    }
    // perms, dev, path, flags: four NUL-ended strings.
    for (let k = 0; k < 4; k++) {
      if (whole) s[k] = whole[4 * i + k];
      else {
        const q = strs.indexOf('\0', p);
        s[k] = strs.slice(p, q);
        p = q + 1;
      }
    }
    // A process has few distinct flag sets: split each once (split cost ~0.5 µs a VMA), hand
    // every VMA its own copy.
    let split = flagSets.get(s[3]);
    if (split === undefined) flagSets.set(s[3], (split = s[3] === '' ? [] : s[3].split(' ')));
    const fl = split.slice();
    visit(make!(nums, o, s, 0, thp === 2, fl));
    at += n + 2;
    o += 4 + n;
  }
}

/** The addon's flat form (see FlatSmaps) into VMA objects. */
function build(flat: FlatSmaps): Vma[] {
  const out = new Array<Vma>(flat.count);
  let i = 0;
  eachVma(flat, (v) => (out[i++] = v));
  return out;
}

/** Every VMA of a process. Throws ENOENT (gone), EACCES (not ours to read) like fs does. */
export function readSmaps(pid: Pid = 'self'): Vma[] {
  return build(binding.smaps(pid, false));
}

/**
 * Which VMAs readSmapsWhere builds: at least this many Anonymous bytes, this much address
 * space; and of each, only these smaps fields (camelCase; every field without it). The
 * addon applies all three while parsing, so nothing is kept for what a caller drops.
 */
export interface SmapsFilter {
  minAnonymous?: number;
  minSize?: number;
  fields?: readonly string[];
}

/** The smaps fields summed over every VMA, by name. */
function sumsOf(keys: readonly string[], sums: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  keys.forEach((k, i) => (out[k] = sums[i]));
  return out;
}

/** How many smapsInline() calls are running (they nest). */
let inline = 0;

/**
 * Run `fn` with every streamSmaps() inside reading the file whole on this thread, as one batch:
 * for many small processes in a row (a scrape of 200), where the stream's read-ahead thread
 * cost more than it hid — 3-5x the parse of a 20-VMA process on a loaded 2-vCPU host, each
 * hand-over waiting for the scheduler. The price: a large process's filtered VMAs are held at
 * once (in the compact flat form) instead of a batch at a time.
 */
export function smapsInline<T>(fn: () => T): T {
  inline++;
  try {
    return fn();
  } finally {
    inline--;
  }
}

/**
 * The VMAs that pass `filter`, handed to `batch` a few thousand at a time (in the flat form,
 * in address order) while the addon reads and parses the rest on a thread of its own; returns
 * the totals over every VMA. The file is opened before anything else, so a process that does
 * not exist or may not be read throws before `batch` is called; the thread is stopped however
 * this returns.
 */
export function streamSmaps(pid: Pid, filter: SmapsFilter, batch: (flat: FlatBatch) => void): { total: number; sums: Record<string, number> } {
  if (inline > 0) {
    // One read and parse on this thread, handed over as one batch (see smapsInline).
    const flat = binding.smaps(pid, false, filter.minAnonymous ?? 0, filter.minSize ?? 0, filter.fields);
    if (flat.count) batch(flat);
    return { total: flat.total, sums: sumsOf(flat.keys, flat.sums) };
  }
  const stream = binding.smapsStream(pid, filter.minAnonymous ?? 0, filter.minSize ?? 0, filter.fields);
  try {
    for (;;) {
      const next = binding.smapsNext(stream);
      if ('done' in next) return { total: next.total, sums: sumsOf(next.keys, next.sums) };
      batch(next);
    }
  } finally {
    binding.smapsClose(stream);
  }
}

/**
 * The VMAs that pass `filter`, built as objects, and every field summed over all of them: read
 * through streamSmaps, so each batch is built while the addon reads the next.
 */
export function readSmapsWhere(pid: Pid, filter: SmapsFilter): { vmas: Vma[]; total: number; sums: Record<string, number> } {
  const vmas: Vma[] = [];
  const { total, sums } = streamSmaps(pid, filter, (flat) => eachVma(flat, (v) => vmas.push(v)));
  return { vmas, total, sums };
}

/** [first start, last end) of the VMAs of a flat form; undefined when it holds none. */
export function flatSpan(flat: FlatBatch): [number, number] | undefined {
  if (flat.count === 0) return undefined;
  // The last VMA's nums start where the shape says: walk the field counts.
  let at = 0;
  let o = 0;
  for (let i = 0; i < flat.count - 1; i++) {
    const n = flat.shape[at];
    at += n + 2;
    o += 4 + n;
  }
  return [flat.nums[0], flat.nums[o + 1]];
}

/** Each VMA's [start, end) of a flat form, as pairs, without building the VMAs. */
export function flatBounds(flat: FlatBatch): Float64Array {
  const out = new Float64Array(2 * flat.count);
  let at = 0;
  let o = 0;
  for (let i = 0; i < flat.count; i++) {
    out[2 * i] = flat.nums[o];
    out[2 * i + 1] = flat.nums[o + 1];
    const n = flat.shape[at];
    at += n + 2;
    o += 4 + n;
  }
  return out;
}

/** The process's totals in one record (path '[rollup]'), far cheaper than readSmaps. */
export function readSmapsRollup(pid: Pid = 'self'): Vma {
  const [rollup] = build(binding.smaps(pid, true));
  if (!rollup) throw Object.assign(new Error(`smaps_rollup of ${pid} is empty (a kernel thread has no memory map)`), { code: 'ERR_HUGESPAN_NO_MM' });
  return rollup;
}

/** Parse smaps text; `piece` feeds it through the reader's fixed buffer in pieces (tests). */
export function parseSmaps(text: string | Uint8Array, piece?: number): Vma[] {
  return build(binding.parseSmaps(text, piece));
}

/** The VMA holding `address`, or undefined. */
export function vmaAt(vmas: readonly Vma[], address: number): Vma | undefined {
  vmasArg(vmas);
  numberArg(address, 'address');
  let lo = 0;
  let hi = lengthOf(vmas, 'vmas') - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = elementAt(vmas, mid, 'vmas') as Vma;
    const [start, end] = bounds(v, mid);
    if (address < start) hi = mid - 1;
    else if (address >= end) lo = mid + 1;
    else return v;
  }
  return undefined;
}

/** The VMAs overlapping [start, end), in address order. */
export function vmasIn(vmas: readonly Vma[], start: number, end: number): Vma[] {
  vmasArg(vmas);
  numberArg(start, 'start');
  numberArg(end, 'end');
  const all: Vma[] = [];
  for (let i = 0, n = lengthOf(vmas, 'vmas'); i < n; i++) {
    const v = elementAt(vmas, i, 'vmas');
    const [s, e] = bounds(v, i);
    if (s < end && e > start) all.push(v as Vma);
  }
  return all;
}

/** vmaAt without the checks, for this package's own VMAs (readSmaps' answer): a frame walk asks once per frame. */
export function vmaHolding(vmas: readonly Vma[], address: number): Vma | undefined {
  let lo = 0;
  let hi = vmas.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = vmas[mid];
    if (address < v.start) hi = mid - 1;
    else if (address >= v.end) lo = mid + 1;
    else return v;
  }
  return undefined;
}

/** vmasIn without the checks, for this package's own VMAs (readSmaps' answer, or one the caller's options passed through vmasIn's checks). */
export function overlapping(vmas: readonly Vma[], start: number, end: number): Vma[] {
  return vmas.filter((v) => v.start < end && v.end > start);
}

function vmasArg(vmas: unknown): void {
  if (!Array.isArray(vmas)) throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "vmas" argument must be an array of VMAs. ${received(vmas)}`);
}

/** A VMA's [start, end), read so that a malformed element is refused with a code. */
function bounds(v: unknown, i: number): [number, number] {
  if (v === null || typeof v !== 'object') throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "vmas[${i}]" element must be a VMA. ${received(v)}`);
  return [numberArg(objectField(v, 'start', `vmas[${i}]`), `vmas[${i}].start`), numberArg(objectField(v, 'end', `vmas[${i}]`), `vmas[${i}].end`)];
}
