/**
 * A Mapping is memory this package mapped, and the only memory its calls may touch.
 * Invariant: while `live`, [address, address + length) is ours; every method resolves its
 * range inside it (the addon checks again, so the raw binding is just as safe); after
 * `unmap()` (or when the object is collected) the memory is gone and views over it are empty.
 */
import { binding } from './binding';
import { hugePageSize } from './host';
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

function offsetArg(value: unknown, name: string): number {
  if (typeof value !== 'number') {
    throw Object.assign(new TypeError(`The "${name}" argument must be of type number. Received ${value === null ? 'null' : typeof value}`), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw Object.assign(new RangeError(`The "${name}" argument must be an integer from 0 to 2^53 - 1. Received ${value}`), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  }
  return value;
}

export class Mapping {
  readonly address: number;
  readonly length: number;
  // Holding the native handle keeps the memory mapped; collecting it unmaps (once).
  readonly #handle: object;
  #live = true;

  constructor(length: number, options: MapOptions = {}) {
    const align = options.align === 'hugepage' ? hugePageAlign() : options.align === 'page' || options.align === undefined ? undefined : options.align;
    const handle = binding.map(length, align, options.commit ?? false);
    this.#handle = handle;
    this.address = handle.address;
    this.length = handle.length;
  }

  get end(): number {
    return this.address + this.length;
  }

  get live(): boolean {
    return this.#live;
  }

  /** The read/write parts, as [offset, length] pairs in address order (none once unmapped). */
  get committed(): [number, number][] {
    return binding.mappings().find((m) => m.address === this.address)?.committed ?? [];
  }

  #range(offset: unknown, length: unknown): [number, number] {
    const off = offsetArg(offset, 'offset');
    const len = length === undefined ? this.length - off : offsetArg(length, 'length');
    return [this.address + off, len];
  }

  /** Make [offset, offset + length) readable and writable. */
  commit(offset = 0, length?: number): void {
    binding.commit(...this.#range(offset, length));
  }

  /** Drop the pages and take access away; views over them are detached first. */
  decommit(offset = 0, length?: number): void {
    binding.decommit(...this.#range(offset, length));
  }

  advise(advice: Advice, offset = 0, length?: number): void {
    binding.madvise(...this.#range(offset, length), advice);
  }

  /** Write one byte per OS page: faults the range in at memory speed. */
  touch(offset = 0, length?: number, byte = 1): void {
    binding.touch(...this.#range(offset, length), byte);
  }

  /** Read the first byte of every OS page; returns their sum. */
  readPages(offset = 0, length?: number): number {
    return binding.readPages(...this.#range(offset, length));
  }

  /** A zero-copy view of committed memory; empty once the memory is decommitted or unmapped. */
  view(offset = 0, length?: number): Uint8Array {
    return binding.view(...this.#range(offset, length));
  }

  unmap(): void {
    binding.unmap(this.address);
    this.#live = false;
  }
}

/** madvise on an absolute range, which must lie inside one live Mapping of this thread. */
export function madvise(address: number, length: number, advice: Advice): void {
  binding.madvise(address, length, advice);
}

/** The live mappings of this thread (for leak checks and diagnostics). */
export function mappings(): ReturnType<typeof binding.mappings> {
  return binding.mappings();
}

