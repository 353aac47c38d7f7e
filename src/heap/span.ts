/**
 * A span: a run of `npages` runtime pages starting at `base`, in use or free; a free span may be
 * `scavenged` (its memory was given back to the OS). A span object that was merged away, or whose
 * pages were allocated whole, is `dead` for good: it never comes back, which is how stale handles
 * are caught without a generation number. A span is a capability: only objects the Span
 * constructor made carry its brand (a private field), so a copy, an `Object.create(Span.prototype)`
 * or a plain object with a span's fields is refused wherever a span is taken.
 */
import { argError, boolArg, numberArg, oneOfArg, received, thisError } from '../native/args';

/** What a span needs to know about the heap that owns it. */
export interface SpanOwner {
  readonly pageSize: number;
  readonly physHugePageSize: number;
}

export type SpanState = 'inUse' | 'free' | 'dead';

/** The brand test, set by Span's static block (it alone can name the private field). */
let isSpanObject: (o: object) => boolean;

/**
 * A span's fields belong to its heap: callers read them, only the heap writes them. A span that
 * was freed is the heap's again, as in the runtime: coalescing may grow it, a later split may move
 * its base, and it dies when merged away or allocated whole (alloc always returns a fresh object).
 */
export class Span {
  /** The free set's node id for this span while the free set holds it, else 0: removing a span needs no search. */
  freeNode = 0;
  /** The span's slot in its heap's span table (what the heap's page map stores), 0 once dead. */
  slot = 0;

  constructor(
    readonly heap: SpanOwner,
    public base: number,
    public npages: number,
    public state: SpanState,
    public scavenged: boolean,
  ) {
    // The fast path is four typeof tests (alloc makes a span per call); the owner's page sizes are
    // read once, here, so no getter of a caller's owner ever runs later.
    if (typeof base !== 'number' || typeof npages !== 'number' || typeof scavenged !== 'boolean' || (state !== 'inUse' && state !== 'free' && state !== 'dead')) {
      spanFieldsArg(base, npages, state, scavenged);
    }
    let pageSize: unknown;
    let h: unknown;
    try {
      pageSize = heap.pageSize;
      h = heap.physHugePageSize;
    } catch (cause) {
      throw Object.assign(argError(TypeError, 'ERR_INVALID_ARG_VALUE', 'The "heap" argument\'s page sizes could not be read'), { cause });
    }
    if (typeof pageSize !== 'number' || typeof h !== 'number') {
      throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "heap" argument must have numeric pageSize and physHugePageSize. ${received(heap)}`);
    }
    this.#pageSize = pageSize;
    this.#h = h;
  }

  readonly #pageSize: number;
  readonly #h: number;

  // The heap reads these on its hot paths: each checks its receiver inline, without a wrapper.
  get bytes(): number {
    if (!isSpan(this)) throw thisError('Span', this);
    return this.npages * this.#pageSize;
  }

  /** One past the last byte. */
  get end(): number {
    if (!isSpan(this)) throw thisError('Span', this);
    return this.base + this.npages * this.#pageSize;
  }

  contains(addr: number): boolean {
    if (!isSpan(this)) throw thisError('Span', this);
    if (typeof addr !== 'number') numberArg(addr, 'addr');
    return addr >= this.base && addr < this.end;
  }

  /** The number of whole, aligned huge pages inside the span, as the runtime counts them. */
  hugePages(): number {
    if (!isSpan(this)) throw thisError('Span', this);
    return wholeHugePages(this.base, this.base + this.npages * this.#pageSize, this.#h);
  }

  /** Only objects this constructor made have it. */
  readonly #brand = true;

  static {
    isSpanObject = (o) => #brand in o;
  }
}

function spanFieldsArg(base: unknown, npages: unknown, state: unknown, scavenged: unknown): void {
  numberArg(base, 'base');
  numberArg(npages, 'npages');
  oneOfArg(state, 'state', ['inUse', 'free', 'dead'] as const);
  boolArg(scavenged, 'scavenged');
}

/** Whether `o` is a Span the constructor made (not a copy or a forgery): the heap's capability check. */
export function isSpan(o: unknown): o is Span {
  return typeof o === 'object' && o !== null && isSpanObject(o);
}

/**
 * The whole, aligned huge pages inside [base, end): round base up and end down to huge pages. 0
 * without huge pages (h = 0) or for a range smaller than one huge page.
 */
export function hugePagesIn(base: number, end: number, h: number): number {
  numberArg(base, 'base', 0, Number.MAX_SAFE_INTEGER);
  numberArg(end, 'end', 0, Number.MAX_SAFE_INTEGER);
  numberArg(h, 'h', 0, Number.MAX_SAFE_INTEGER);
  if (!Number.isInteger(h)) throw argError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "h" is out of range. It must be an integer. Received ${h}`);
  return wholeHugePages(base, end, h);
}

/** hugePagesIn without the checks, for the heaps' own (valid) ranges. */
export function wholeHugePages(base: number, end: number, h: number): number {
  if (h === 0 || end - base < h) return 0;
  const start = Math.ceil(base / h) * h;
  const stop = Math.floor(end / h) * h;
  return start < stop ? (stop - start) / h : 0;
}
