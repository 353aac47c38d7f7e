/**
 * Real Go programs as lab workloads: the heap's span events from a Go >= 1.23 execution trace
 * recorded with GODEBUG=traceallocfree=1 (docs/trace.md). The trace is read here, byte by byte,
 * from its own format (Go 1.23's internal/trace/event/go122: batches of uvarint-encoded events
 * with per-batch timestamps); no Go toolchain is needed to import one.
 * Invariant: what comes out keeps every heap event the trace holds — the spans alive when tracing
 * began (`Span`), every `SpanAlloc` and `SpanFree`, in the runtime's time order, with the GC
 * cycles and heap goals between them — and pairs every free with the span it frees. Go 1.23's
 * tracer itself drops an event when it cannot take the trace lock (traceTryAcquire in allocSpan
 * and freeSpan): a free of a span it never showed is left out, and an alloc at a live span's
 * address implies the free it did not write, put in just before; both are counted
 * (`unrecorded`), never hidden. A trace cut short or not Go 1.23's is refused naming the byte.
 */

import { gunzipSync, gzipSync } from 'node:zlib';
import { argError, received, stringArg } from '../native/args';

/** Go 1.23's trace header: "go 1.23 trace" padded with NULs to 16 bytes. */
const HEADER = 'go 1.23 trace\0\0\0';

// Event types (go122.Ev*), by their position in Go 1.23's list.
const EV_EVENT_BATCH = 1;
const EV_STACKS = 2;
const EV_STRINGS = 4;
const EV_CPU_SAMPLES = 6;
const EV_FREQUENCY = 8;
const EV_GC_BEGIN = 29;
const EV_GC_END = 30;
const EV_HEAP_ALLOC = 37;
const EV_HEAP_GOAL = 38;
const EV_EXPERIMENTAL_BATCH = 49;
const EV_SPAN = 128;
const EV_SPAN_ALLOC = 129;
const EV_SPAN_FREE = 130;

/** Arguments after the timestamp of every timed event type (go122's specs: len(Args) - 1). */
const ARGS: Record<number, number> = {
  9: 2, 10: 2, 11: 0, 12: 3, 13: 2, 14: 3, 15: 1, 16: 2, 17: 0, 18: 0, 19: 2, 20: 2, 21: 3, 22: 2, 23: 0, 24: 0, 25: 3,
  26: 2, 27: 0, 28: 1, 29: 2, 30: 1, 31: 1, 32: 1, 33: 2, 34: 1, 35: 1, 36: 0, 37: 1, 38: 1, 39: 1, 40: 4, 41: 2, 42: 3,
  43: 3, 44: 4, 45: 2, 46: 2, 47: 3, 48: 4,
  128: 3, 129: 3, 130: 1, 131: 2, 132: 2, 133: 1, 134: 2, 135: 2, 136: 1,
};

/** What one event of a GoTrace is. */
export const GO_EVENT = { alloc: 0, free: 1, gcBegin: 2, gcEnd: 3, heapGoal: 4, heapLive: 5 } as const;
export type GoEventKind = (typeof GO_EVENT)[keyof typeof GO_EVENT];

/**
 * The heap's events, in time order, column by column (a million events stay a few typed
 * arrays). alloc: `id` the span's page id (its address in runtime pages from the heap's base),
 * `pages`, `cls` (the span class << 1, or 1 for a span not in the heap's use: a stack, …); free:
 * `id`; gcBegin/gcEnd: `id` the cycle's number; heapGoal: `value` the goal in bytes.
 */
export interface GoTrace {
  count: number;
  /** Nanoseconds from the trace's first event. */
  t: Float64Array;
  kind: Uint8Array;
  id: Float64Array;
  pages: Float64Array;
  cls: Float64Array;
  /** heapGoal: the goal in bytes; heapLive: the runtime's heapLive (HeapAlloc) in bytes; alloc: 1 for a span alive when tracing began (`Span`), else 0. */
  value: Float64Array;
  /** The runtime's page size (8192 on every Go port). */
  pageSize: number;
  /** How many of the allocs are spans alive when tracing began (`Span` events). */
  existing: number;
  /** Events of the whole trace read to find these (all kinds, heap objects included). */
  eventsRead: number;
  /** Events Go's tracer did not write, as the pairing shows: frees of spans it never showed (left out), frees implied by an alloc at a live span's address (put in). */
  unrecorded: { frees: number; impliedFrees: number };
}

/** A Go trace that cannot be imported: where (byte offset, or event index) and why. */
export class GoTraceError extends Error {
  override name = 'GoTraceError';
  readonly code = 'ERR_HUGESPAN_GO_TRACE';
}

/** Whether `b` starts as a Go execution trace (any version: the header says which). */
export function isGoTrace(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0x67 && b[1] === 0x6f && b[2] === 0x20; // "go "
}

/** Reads the uvarints of a buffer; a truncated one throws with its offset. */
class Cursor {
  pos = 0;
  constructor(readonly b: Uint8Array) {}
  uvarint(): number {
    let x = 0;
    let mul = 1;
    for (;;) {
      if (this.pos >= this.b.length) throw new GoTraceError(`truncated at byte ${this.pos}: a number runs past the end`);
      const c = this.b[this.pos++];
      x += (c & 0x7f) * mul;
      if (c < 0x80) return x;
      mul *= 128;
      if (mul > 2 ** 63) throw new GoTraceError(`bad number at byte ${this.pos}: more than 64 bits`);
    }
  }
  byte(): number {
    if (this.pos >= this.b.length) throw new GoTraceError(`truncated at byte ${this.pos}`);
    return this.b[this.pos++];
  }
}

interface Batch {
  start: number;
  end: number;
  time: number;
}

/**
 * The span, GC and heap-goal events of a Go 1.23 execution trace (the file's bytes). Throws
 * GoTraceError for another version, a trace without the alloc/free experiment, or a trace
 * whose frees do not pair with its spans.
 */
export function parseGoTrace(buf: Uint8Array): GoTrace {
  if (buf.length < 16 || !isGoTrace(buf)) throw new GoTraceError('not a Go execution trace (no "go 1.xx trace" header)');
  const head = Buffer.from(buf.subarray(0, 16)).toString('latin1');
  if (head !== HEADER) {
    throw new GoTraceError(`a ${JSON.stringify(head.replace(/\0+$/, ''))}: hugespan reads Go 1.23's trace format (record with Go 1.23: GODEBUG=traceallocfree=1)`);
  }
  const c = new Cursor(buf);
  c.pos = 16;
  const batches: Batch[] = [];
  let freq = 0;
  let pageSize = 0;
  while (c.pos < buf.length) {
    const at = c.pos;
    const kind = c.byte();
    if (kind !== EV_EVENT_BATCH && kind !== EV_EXPERIMENTAL_BATCH) throw new GoTraceError(`byte ${at}: a batch was expected, found event type ${kind}`);
    const exp = kind === EV_EXPERIMENTAL_BATCH ? c.byte() : 0;
    c.uvarint(); // generation
    c.uvarint(); // M
    const time = c.uvarint();
    const size = c.uvarint();
    const start = c.pos;
    const end = start + size;
    if (end > buf.length) throw new GoTraceError(`truncated at byte ${buf.length}: the batch at byte ${at} wants ${size} bytes`);
    c.pos = end;
    if (exp !== 0) {
      // The alloc/free experiment's info batch: [1, min heap addr, page size, min heap align, min stack align].
      if (exp === 1 && size > 0 && buf[start] === 1) {
        const d = new Cursor(buf.subarray(start + 1, end));
        d.uvarint();
        pageSize = d.uvarint();
      }
      continue;
    }
    if (size === 0) continue;
    const first = buf[start];
    if (first === EV_FREQUENCY) {
      const d = new Cursor(buf.subarray(start + 1, end));
      freq = d.uvarint();
      continue;
    }
    if (first === EV_STACKS || first === EV_STRINGS || first === EV_CPU_SAMPLES) continue;
    batches.push({ start, end, time });
  }
  if (!freq) throw new GoTraceError('no frequency batch: the trace was cut short (Go writes it at the end of each generation)');
  if (!pageSize) throw new GoTraceError('no span events: record the program with GODEBUG=traceallocfree=1 (Go >= 1.23)');
  const nsPerTick = 1e9 / freq;

  // Every event read; the heap's kept, column by column.
  let n = 0;
  let cap = 1 << 14;
  let t = new Float64Array(cap);
  let kindA = new Uint8Array(cap);
  let id = new Float64Array(cap);
  let pages = new Float64Array(cap);
  let cls = new Float64Array(cap);
  let value = new Float64Array(cap);
  const push = (tt: number, k: number, a: number, p: number, q: number, v: number) => {
    if (n === cap) {
      cap *= 2;
      const grow = <T extends Float64Array | Uint8Array>(x: T): T => {
        const y = new (x.constructor as new (n: number) => T)(cap);
        y.set(x);
        return y;
      };
      t = grow(t);
      kindA = grow(kindA);
      id = grow(id);
      pages = grow(pages);
      cls = grow(cls);
      value = grow(value);
    }
    t[n] = tt;
    kindA[n] = k;
    id[n] = a;
    pages[n] = p;
    cls[n] = q;
    value[n] = v;
    n++;
  };
  let eventsRead = 0;
  const args = new Array<number>(4);
  for (const b of batches) {
    c.pos = b.start;
    let ticks = b.time;
    while (c.pos < b.end) {
      const at = c.pos;
      const type = buf[c.pos++];
      const nargs = ARGS[type];
      if (nargs === undefined) throw new GoTraceError(`byte ${at}: event type ${type} is not one of Go 1.23's`);
      ticks += c.uvarint();
      for (let k = 0; k < nargs; k++) args[k] = c.uvarint();
      if (c.pos > b.end) throw new GoTraceError(`byte ${at}: an event runs past its batch`);
      eventsRead++;
      if (type === EV_SPAN || type === EV_SPAN_ALLOC) push(ticks, GO_EVENT.alloc, args[0], args[1], args[2], type === EV_SPAN ? 1 : 0);
      else if (type === EV_SPAN_FREE) push(ticks, GO_EVENT.free, args[0], 0, 0, 0);
      else if (type === EV_GC_BEGIN) push(ticks, GO_EVENT.gcBegin, args[0], 0, 0, 0);
      else if (type === EV_GC_END) push(ticks, GO_EVENT.gcEnd, args[0], 0, 0, 0);
      else if (type === EV_HEAP_GOAL) push(ticks, GO_EVENT.heapGoal, 0, 0, 0, args[0]);
      else if (type === EV_HEAP_ALLOC) push(ticks, GO_EVENT.heapLive, 0, 0, 0, args[0]);
    }
  }
  // Time order across threads (each thread's batches are in order already); then, among
  // events at the same tick, each free before any alloc that reuses its id.
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => t[a] - t[b] || a - b);
  // Room for an implied free per alloc, at most.
  const out = emptyTrace(n * 2, pageSize, eventsRead);
  const t0 = n ? t[order[0]] : 0;
  const live = new Set<number>();
  let existing = 0;
  let w = 0;
  const emit = (i: number, kind = kindA[i]) => {
    out.t[w] = (t[i] - t0) * nsPerTick;
    out.kind[w] = kind;
    out.id[w] = id[i];
    out.pages[w] = pages[i];
    out.cls[w] = cls[i];
    out.value[w] = value[i];
    w++;
  };
  for (let s = 0; s < n; ) {
    let e = s + 1;
    while (e < n && t[order[e]] === t[order[s]]) e++;
    // Within one tick: frees of live spans, then allocs, then the frees of what those allocated.
    const group = order.slice(s, e);
    const late: number[] = [];
    for (const i of group) {
      if (kindA[i] !== GO_EVENT.free) continue;
      if (live.has(id[i])) {
        live.delete(id[i]);
        emit(i);
      } else late.push(i);
    }
    for (const i of group) {
      if (kindA[i] === GO_EVENT.free) continue;
      if (kindA[i] === GO_EVENT.alloc) {
        if (live.has(id[i])) {
          emit(i, GO_EVENT.free); // its free was not written: it happened before this alloc
          out.value[w - 1] = 0;
          out.unrecorded.impliedFrees++;
        }
        live.add(id[i]);
        if (value[i] === 1) existing++;
      }
      emit(i);
    }
    for (const i of late) {
      if (!live.delete(id[i])) {
        out.unrecorded.frees++; // a span Go's tracer never showed: nothing of it to replay
        continue;
      }
      emit(i);
    }
    s = e;
  }
  out.existing = existing;
  return shrink(out, w);
}

/** Every GoTrace this module made: the lab replays only those (their pairing was checked here). */
const MADE = new WeakSet<object>();

/** `value` as a GoTrace the lab may replay: one this module made, else a coded TypeError. */
export function goTraceArg(value: unknown, name: string): GoTrace {
  if (typeof value !== 'object' || value === null || !MADE.has(value)) {
    throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be a GoTrace from parseGoTrace or readGoSpans. ${received(value)}`);
  }
  return value as GoTrace;
}

function emptyTrace(n: number, pageSize: number, eventsRead: number): GoTrace {
  const g: GoTrace = {
    count: n,
    t: new Float64Array(n),
    kind: new Uint8Array(n),
    id: new Float64Array(n),
    pages: new Float64Array(n),
    cls: new Float64Array(n),
    value: new Float64Array(n),
    pageSize,
    existing: 0,
    eventsRead,
    unrecorded: { frees: 0, impliedFrees: 0 },
  };
  MADE.add(g);
  return g;
}

/** The first `n` events of `g` (views, not copies). */
function shrink(g: GoTrace, n: number): GoTrace {
  g.count = n;
  g.t = g.t.subarray(0, n);
  g.kind = g.kind.subarray(0, n);
  g.id = g.id.subarray(0, n);
  g.pages = g.pages.subarray(0, n);
  g.cls = g.cls.subarray(0, n);
  g.value = g.value.subarray(0, n);
  return g;
}

/** Counts by kind, and the heap's in-use pages at the start of each GC cycle (for checks and reports). */
export function goTraceSummary(g: GoTrace): { allocs: number; frees: number; gcs: number; goals: number; liveAtGc: number[]; peakPages: number; seconds: number } {
  let allocs = 0;
  let frees = 0;
  let gcs = 0;
  let goals = 0;
  let inUse = 0;
  let peakPages = 0;
  const liveAtGc: number[] = [];
  const pagesOf = new Map<number, number>();
  for (let i = 0; i < g.count; i++) {
    switch (g.kind[i]) {
      case GO_EVENT.alloc:
        allocs++;
        pagesOf.set(g.id[i], g.pages[i]);
        inUse += g.pages[i];
        peakPages = Math.max(peakPages, inUse);
        break;
      case GO_EVENT.free:
        frees++;
        inUse -= pagesOf.get(g.id[i]) ?? 0;
        pagesOf.delete(g.id[i]);
        break;
      case GO_EVENT.gcBegin:
        gcs++;
        liveAtGc.push(inUse);
        break;
      case GO_EVENT.heapGoal:
        goals++;
        break;
    }
  }
  return { allocs, frees, gcs, goals, liveAtGc, peakPages, seconds: g.count ? g.t[g.count - 1] / 1e9 : 0 };
}

/**
 * The lab's own form of a Go trace's heap events (docs/trace.md): text, gzipped in the repo's
 * traces/. A first line `# hugespan go spans 1 {provenance JSON}`, then one event a line, times
 * in ns from the trace's start: `a T ID PAGES CLASS` (an alloc; `s …` for a span alive when
 * tracing began), `f T ID`, `g T SEQ` (a GC cycle begins), `e T SEQ` (ends), `h T BYTES` (heap goal), `l T BYTES` (heapLive).
 */
const SPANS_HEAD = '# hugespan go spans 1 ';

/** Each line's letter, event kind and fields after the time: the writer's and the reader's one table. */
const LINES = {
  s: { kind: GO_EVENT.alloc, fields: 3 },
  a: { kind: GO_EVENT.alloc, fields: 3 },
  f: { kind: GO_EVENT.free, fields: 1 },
  g: { kind: GO_EVENT.gcBegin, fields: 1 },
  e: { kind: GO_EVENT.gcEnd, fields: 1 },
  h: { kind: GO_EVENT.heapGoal, fields: 1 },
  l: { kind: GO_EVENT.heapLive, fields: 1 },
} as const;
type Letter = keyof typeof LINES;
const LETTER_OF = new Map<number, Letter>((Object.keys(LINES) as Letter[]).filter((l) => l !== 's').map((l) => [LINES[l].kind, l]));
/** Whether a kind's one field is `value` (bytes) rather than `id`. */
const VALUED = new Set<number>([GO_EVENT.heapGoal, GO_EVENT.heapLive]);

export interface Provenance {
  [key: string]: string | number;
}

/** The trace in the lab's form, with its provenance. Lossless for what the lab replays (times rounded to the ns). */
export function writeGoSpans(g: GoTrace, provenance: Provenance): string {
  const lines = [SPANS_HEAD + JSON.stringify({ ...provenance, pageSize: g.pageSize, eventsRead: g.eventsRead, unrecordedFrees: g.unrecorded.frees, impliedFrees: g.unrecorded.impliedFrees })];
  for (let i = 0; i < g.count; i++) {
    const t = Math.round(g.t[i]);
    const kind = g.kind[i];
    if (kind === GO_EVENT.alloc) lines.push(`${g.value[i] === 1 ? 's' : 'a'} ${t} ${g.id[i]} ${g.pages[i]} ${g.cls[i]}`);
    else lines.push(`${LETTER_OF.get(kind)} ${t} ${VALUED.has(kind) ? g.value[i] : g.id[i]}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A lab-form trace back into a GoTrace, checked as parseGoTrace checks a raw one; and its provenance. */
export function readGoSpans(text: string, file = 'trace'): { trace: GoTrace; provenance: Provenance } {
  stringArg(text, 'text');
  const lines = text.split('\n');
  if (!lines[0].startsWith(SPANS_HEAD)) throw new GoTraceError(`${file}:1: not a hugespan go spans file (it starts "${SPANS_HEAD.trim()}")`);
  let provenance: Provenance;
  try {
    provenance = JSON.parse(lines[0].slice(SPANS_HEAD.length)) as Provenance;
  } catch (e) {
    throw new GoTraceError(`${file}:1: the provenance is not JSON (${(e as Error).message})`);
  }
  const pageSize = Number(provenance.pageSize);
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new GoTraceError(`${file}:1: no page size in the provenance`);
  const body = lines.slice(1).filter((l) => l !== '');
  const g = emptyTrace(body.length, pageSize, Number(provenance.eventsRead) || 0);
  g.unrecorded = { frees: Number(provenance.unrecordedFrees) || 0, impliedFrees: Number(provenance.impliedFrees) || 0 };
  const live = new Set<number>();
  let last = 0;
  body.forEach((text, k) => {
    const at = `${file}:${k + 2}`;
    const f = text.split(' ');
    const num = (j: number): number => {
      const v = Number(f[j]);
      if (f[j] === undefined || !Number.isSafeInteger(v) || v < 0) throw new GoTraceError(`${at}: field ${j + 1} wants a non-negative integer, not ${JSON.stringify(f[j] ?? null)}`);
      return v;
    };
    const spec = Object.hasOwn(LINES, f[0]) ? LINES[f[0] as Letter] : undefined;
    if (spec === undefined) throw new GoTraceError(`${at}: unknown event ${JSON.stringify(f[0])} (${Object.keys(LINES).join(', ')})`);
    if (f.length !== spec.fields + 2) throw new GoTraceError(`${at}: ${f[0]} wants ${spec.fields + 1} fields, found ${f.length - 1}`);
    const t = num(1);
    if (t < last) throw new GoTraceError(`${at}: time ${t} goes back (previous ${last})`);
    last = t;
    g.t[k] = t;
    const id = num(2);
    g.kind[k] = spec.kind;
    if (VALUED.has(spec.kind)) {
      g.value[k] = id;
      return;
    }
    g.id[k] = id;
    if (spec.kind === GO_EVENT.free) {
      if (!live.delete(id)) throw new GoTraceError(`${at}: span ${id} freed but not live`);
    } else if (spec.kind === GO_EVENT.alloc) {
      if (live.has(id)) throw new GoTraceError(`${at}: span ${id} allocated while it is live`);
      if (num(3) < 1) throw new GoTraceError(`${at}: a span of 0 pages`);
      live.add(id);
      if (f[0] === 's') {
        g.existing++;
        g.value[k] = 1;
      }
      g.pages[k] = num(3);
      g.cls[k] = num(4);
    }
  });
  return { trace: g, provenance };
}

/**
 * A file given to `lab --go-trace`: a raw Go 1.23 trace or the lab's form, either gzipped or not.
 * Throws GoTraceError saying which it is not.
 */
export function loadGoTrace(bytes: Uint8Array, file: string): { trace: GoTrace; provenance: Provenance | null } {
  let b = bytes;
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) {
    try {
      b = gunzipSync(b);
    } catch (e) {
      throw new GoTraceError(`${file}: a gzip file that does not decompress (${(e as Error).message})`);
    }
  }
  if (isGoTrace(b)) {
    try {
      return { trace: parseGoTrace(b), provenance: null };
    } catch (e) {
      if (e instanceof GoTraceError) e.message = `${file}: ${e.message}`;
      throw e;
    }
  }
  return readGoSpans(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8'), file);
}

/** The lab's form gzipped, as traces/ ships it. */
export function gzipGoSpans(g: GoTrace, provenance: Provenance): Buffer {
  return gzipSync(writeGoSpans(g, provenance), { level: 9 });
}
