/**
 * A Mapping is memory this package mapped, and its methods are the only way to reach it.
 * Invariant: every method goes through the Mapping's own native handle with an offset and
 * length, and the addon checks that the range lies inside *that* region and that the region
 * is still mapped. There is no call by raw address: a Mapping cannot reach another Mapping's
 * memory, nor, after `unmap()`, whatever the kernel maps next at the same address.
 * When the object is collected its memory is unmapped (once); views over it keep their own
 * pages alive until they go.
 */
import { binding, Handle } from './binding';
import { hugePageSize } from './host';
import { optionsArg, uintArg, argError, received, boolArg, guardReceivers, objectField, optional, arrayArg } from './args';
import type { Advice } from './advice';

export interface MapOptions {
  /** Start on a multiple of this: 'page' (default), 'hugepage' (hpage_pmd_size) or a power of two. */
  align?: 'page' | 'hugepage' | number;
  /** Read/write from the start (true) or address space only, no access (false, default). */
  commit?: boolean;
}

/** hpage_pmd_size, or the OS page where there are no huge pages to align to. */
function hugePageAlign(): number {
  return hugePageSize() || binding.pageSize();
}

export class Mapping {
  readonly address: number;
  readonly length: number;
  // The capability: holding it keeps the memory mapped; collecting it unmaps (once).
  readonly #handle: Handle;

  constructor(length: number, options?: MapOptions) {
    const o = optionsArg<MapOptions>(options, 'options', ['align', 'commit']);
    optional(o.commit, boolArg, 'options.commit');
    let align: number | undefined;
    if (o.align === 'hugepage') align = hugePageAlign();
    else if (o.align === 'page' || o.align === undefined) align = undefined;
    else if (typeof o.align === 'number') align = o.align;
    else throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "options.align" property must be 'page', 'hugepage' or a number. ${received(o.align)}`);
    const handle = binding.map(length, align, o.commit ?? false);
    this.#handle = handle;
    this.address = handle.address;
    this.length = handle.length;
  }

  get end(): number {
    return this.address + this.length;
  }

  get live(): boolean {
    return binding.live(this.#handle);
  }

  /** The read/write parts, as [offset, length] pairs in address order (none once unmapped). */
  get committed(): [number, number][] {
    return binding.committed(this.#handle);
  }

  // (offset, length) with `length` defaulting to the rest of the mapping; the addon checks
  // both against this mapping's bounds.
  #span(offset: unknown, length: unknown): [Handle, number, number] {
    const off = uintArg(offset, 'offset');
    const len = length === undefined ? Math.max(0, this.length - off) : uintArg(length, 'length');
    return [this.#handle, off, len];
  }

  /** Make [offset, offset + length) readable and writable. */
  commit(offset = 0, length?: number): void {
    binding.commit(...this.#span(offset, length));
  }

  /** Drop the pages and take access away; views over them are detached first. */
  decommit(offset = 0, length?: number): void {
    binding.decommit(...this.#span(offset, length));
  }

  advise(advice: Advice, offset = 0, length?: number): void {
    binding.madvise(...this.#span(offset, length), advice);
  }

  /** Write one byte per OS page: faults the range in at memory speed. */
  touch(offset = 0, length?: number, byte = 1): void {
    binding.touch(...this.#span(offset, length), byte);
  }

  /** Read the first byte of every OS page; returns their sum. */
  readPages(offset = 0, length?: number): number {
    return binding.readPages(...this.#span(offset, length));
  }

  /** A zero-copy view of committed memory; empty once the memory is decommitted or unmapped. */
  view(offset = 0, length?: number): Uint8Array {
    return binding.view(...this.#span(offset, length));
  }

  /**
   * `count` random 8-byte reads spread evenly over the bytes of the given parts of this and
   * other mappings, timed inside the addon (no JS in the measurement).
   */
  static randomReads(partsArg: readonly (readonly [Mapping, number, number])[], count: number, seed = 1): { ns: number; reads: number } {
    const parts = arrayArg(partsArg, 'parts');
    const handles: Handle[] = [];
    const flat = new Float64Array(parts.length * 2);
    parts.forEach((part, i) => {
      const [m, offset, length] = Array.isArray(part) ? [0, 1, 2].map((k) => objectField(part, String(k), `parts[${i}]`)) : [];
      if (!Mapping.#is(m)) {
        throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "parts[${i}]" argument must be [mapping, offset, length]. ${received(part)}`);
      }
      const [h, off, len] = m.#span(offset, length);
      handles.push(h);
      flat[2 * i] = off;
      flat[2 * i + 1] = len;
    });
    const r = binding.randomReads(handles, flat, count, seed);
    return { ns: r.ns, reads: r.reads };
  }

  /** A Mapping this constructor made (its handle can be read). */
  static #is(o: unknown): o is Mapping {
    return typeof o === 'object' && o !== null && #handle in o;
  }

  static {
    guardReceivers(this, (o) => #handle in o);
  }

  /** Give the memory back; views over it become empty. Throws ERR_HUGESPAN_UNMAPPED if already unmapped. */
  unmap(): void {
    binding.unmap(this.#handle);
  }
}

/** The live mappings of this thread, by address (for leak checks and diagnostics). */
export function mappings(): ReturnType<typeof binding.mappings> {
  return binding.mappings();
}
