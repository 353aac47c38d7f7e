/**
 * FakeMemory: a Memory made of bookkeeping only. No memory is mapped or touched; it hands out
 * addresses from a counter and records, per OS page of each reservation, what the kernel would
 * hold: the VMA flag (hg / nh / neither), whether the page is committed, and whether it is resident.
 * Invariant: like the real addon, it refuses (throws, changes nothing) any range that is not
 * page-aligned or not wholly inside one of its own reservations.
 */

import type { Advice, Memory } from './memory';
import { ADVICE } from './memory';
import { guardReceivers, intArg, oneOfArg, optional, optionsArg, uintArg } from '../native/args';

/** The kernel's THP flag on one OS page's VMA: MADV_HUGEPAGE (`hg`), MADV_NOHUGEPAGE (`nh`), or neither. */
export type PageFlag = 'hg' | 'nh' | 'none';
/** A huge page frame's flag: a PageFlag when all its OS pages agree, `mixed` when they don't. */
export type FrameFlag = PageFlag | 'mixed';

export interface FakeMemoryOptions {
  /** OS page size; default 4096. */
  physPageSize?: number;
  /** hpage_pmd_size; default 2 MiB; 0 models a host without transparent huge pages. */
  physHugePageSize?: number;
}

/** Where the fake address space starts: user-space-looking, and huge-page aligned for any size up to 1 GiB. */
const FAKE_BASE = 0x7f00_0000_0000;

const NONE = 0;
const HG = 1;
const NH = 2;
const FLAG_NAMES: readonly PageFlag[] = ['none', 'hg', 'nh'];

interface Reservation {
  readonly base: number;
  readonly size: number;
  /** Per OS page: NONE, HG or NH. */
  readonly flags: Uint8Array;
  /** Per OS page: 1 once committed (readable and writable). */
  readonly committed: Uint8Array;
  /** Per OS page: 1 while resident (touched and not released since). */
  readonly resident: Uint8Array;
}

type RefusalCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_OUT_OF_RANGE' | 'ERR_HUGESPAN_NOT_OWNED' | 'ERR_HUGESPAN_NOT_COMMITTED';

function refuse(Class: typeof TypeError | typeof RangeError, code: RefusalCode, message: string): Error {
  return Object.assign(new Class(message), { code });
}

/** OS pages per reservation at most: the model keeps three bytes per page, so 2^26 pages (256 GiB of 4 KiB pages) cost 192 MiB. */
const MAX_PAGES = 2 ** 26;

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

export class FakeMemory implements Memory {
  readonly physPageSize: number;
  readonly physHugePageSize: number;
  readonly #reservations = new Map<number, Reservation>();
  private nextAddress = FAKE_BASE;

  constructor(opts?: FakeMemoryOptions) {
    const o = optionsArg<FakeMemoryOptions>(opts, 'opts', ['physPageSize', 'physHugePageSize']);
    const physPageSize = optional(o.physPageSize, (v, n) => intArg(v, n, 1, 2 ** 30), 'opts.physPageSize') ?? 4096;
    const physHugePageSize = optional(o.physHugePageSize, (v, n) => intArg(v, n, 0, 2 ** 40), 'opts.physHugePageSize') ?? 2 * 1024 * 1024;
    if (!isPowerOfTwo(physPageSize)) {
      throw refuse(RangeError, 'ERR_INVALID_ARG_VALUE', `physPageSize must be a power of two, got ${physPageSize}`);
    }
    if (physHugePageSize !== 0 && !(isPowerOfTwo(physHugePageSize) && physHugePageSize > physPageSize)) {
      throw refuse(RangeError, 'ERR_INVALID_ARG_VALUE',
        `physHugePageSize must be 0 or a power of two larger than physPageSize, got ${physHugePageSize}`);
    }
    this.physPageSize = physPageSize;
    this.physHugePageSize = physHugePageSize;
  }

  reserve(n: number, align: number): number {
    this.#checkLength(n);
    if (n / this.physPageSize > MAX_PAGES) {
      throw refuse(RangeError, 'ERR_OUT_OF_RANGE', `a reservation holds at most ${MAX_PAGES} pages; ${n} bytes is ${n / this.physPageSize}`);
    }
    intArg(align, 'align', 1, 2 ** 40);
    if (!isPowerOfTwo(align)) {
      throw refuse(RangeError, 'ERR_INVALID_ARG_VALUE', `align must be a power of two, got ${align}`);
    }
    const base = alignUp(this.nextAddress, Math.max(align, this.physHugePageSize, this.physPageSize));
    const pages = n / this.physPageSize;
    this.#reservations.set(base, {
      base,
      size: n,
      flags: new Uint8Array(pages),
      committed: new Uint8Array(pages),
      resident: new Uint8Array(pages),
    });
    // A guard gap keeps reservations apart, so a range straddling two of them is caught as not owned.
    this.nextAddress = base + n + Math.max(this.physHugePageSize, this.physPageSize);
    return base;
  }

  commit(v: number, n: number): void {
    const [r, first, end] = this.#pages(v, n);
    r.committed.fill(1, first, end);
  }

  madvise(v: number, n: number, advice: Advice): void {
    oneOfArg(advice, 'advice', ADVICE);
    const [r, first, end] = this.#pages(v, n);
    switch (advice) {
      // MADV_HUGEPAGE and MADV_NOHUGEPAGE each clear the other's flag.
      case 'hugepage':
        r.flags.fill(HG, first, end);
        break;
      case 'nohugepage':
        r.flags.fill(NH, first, end);
        break;
      // Bookkeeping treats MADV_FREE like MADV_DONTNEED: the pages count as released at once.
      case 'dontneed':
      case 'free':
        r.resident.fill(0, first, end);
        break;
      // collapse, willneed and normal change neither the THP flags nor residency of anonymous memory
      // in this model (no huge page backing is modelled).
      default:
        break;
    }
  }

  unmap(v: number): void {
    this.#checkAddress(v);
    if (!this.#reservations.delete(v)) {
      throw refuse(RangeError, 'ERR_HUGESPAN_NOT_OWNED', `0x${v.toString(16)} is not the base of a reservation`);
    }
  }

  /** The reservations, as [address, length]. */
  reservations(): [number, number][] {
    return [...this.#reservations.values()].map((r) => [r.base, r.size]);
  }

  /** Write to [v, v+n): the pages become resident. Refused on memory that is not committed (a real write would fault). */
  touch(v: number, n: number): void {
    const [r, first, end] = this.#pages(v, n);
    const uncommitted = r.committed.subarray(first, end).indexOf(0);
    if (uncommitted >= 0) {
      const at = r.base + (first + uncommitted) * this.physPageSize;
      throw refuse(RangeError, 'ERR_HUGESPAN_NOT_COMMITTED', `0x${at.toString(16)} is not committed`);
    }
    r.resident.fill(1, first, end);
  }

  /** The THP flag of the OS page holding addr. */
  flagsAt(addr: number): PageFlag {
    uintArg(addr, 'addr');
    const [r, page] = this.#pages(addr - (addr % this.physPageSize), this.physPageSize);
    return FLAG_NAMES[r.flags[page]];
  }

  /** The THP flag of the huge page frame holding addr: a PageFlag if all its OS pages agree, else `mixed`. */
  frameFlags(addr: number): FrameFlag {
    uintArg(addr, 'addr');
    const [r, page] = this.#pages(addr - (addr % this.physPageSize), this.physPageSize);
    return this.#frameFlag(r, page);
  }

  /** How many huge page frames overlapping [v, v+n) have exactly `flag` (0 without huge pages). */
  framesMarked(flag: FrameFlag, v: number, n: number): number {
    oneOfArg(flag, 'flag', ['hg', 'nh', 'none', 'mixed'] as const);
    const [r, first, end] = this.#pages(v, n);
    if (this.physHugePageSize === 0) return 0;
    const pagesPerFrame = this.physHugePageSize / this.physPageSize;
    let count = 0;
    for (let page = first - (first % pagesPerFrame); page < end; page += pagesPerFrame) {
      if (this.#frameFlag(r, page) === flag) count++;
    }
    return count;
  }

  /** The flag of the frame holding OS page `page` of r; reservations are frame-aligned, so frames start inside them. */
  #frameFlag(r: Reservation, page: number): FrameFlag {
    if (this.physHugePageSize === 0) {
      throw refuse(RangeError, 'ERR_INVALID_ARG_VALUE', 'this memory has no huge pages (physHugePageSize is 0)');
    }
    const pagesPerFrame = this.physHugePageSize / this.physPageSize;
    const first = page - (page % pagesPerFrame);
    const flags = r.flags.subarray(first, first + pagesPerFrame);
    return flags.every((f) => f === flags[0]) ? FLAG_NAMES[flags[0]] : 'mixed';
  }

  /** Bytes of [v, v+n) that are resident. */
  residentBytes(v: number, n: number): number {
    return this.#countPages('resident', v, n);
  }

  /** Bytes of [v, v+n) that are committed. */
  committedBytes(v: number, n: number): number {
    return this.#countPages('committed', v, n);
  }

  #countPages(kind: 'resident' | 'committed', v: number, n: number): number {
    const [r, first, end] = this.#pages(v, n);
    let pages = 0;
    for (let i = first; i < end; i++) pages += r[kind][i];
    return pages * this.physPageSize;
  }

  /** The reservation wholly holding [v, v+n) and the range's OS page indexes in it, or a refusal. */
  #pages(v: number, n: number): [Reservation, number, number] {
    this.#checkAddress(v);
    this.#checkLength(n);
    for (const r of this.#reservations.values()) {
      if (v >= r.base && v + n <= r.base + r.size) {
        const first = (v - r.base) / this.physPageSize;
        return [r, first, first + n / this.physPageSize];
      }
    }
    throw refuse(RangeError, 'ERR_HUGESPAN_NOT_OWNED',
      `[0x${v.toString(16)}, 0x${(v + n).toString(16)}) is not inside one reservation of this memory`);
  }

  #checkAddress(v: number): void {
    if (typeof v !== 'number') {
      throw refuse(TypeError, 'ERR_INVALID_ARG_TYPE', `address must be a number, got ${typeof v}`);
    }
    if (!Number.isSafeInteger(v) || v < 0 || v % this.physPageSize !== 0) {
      throw refuse(RangeError, 'ERR_INVALID_ARG_VALUE', `address ${v} is not aligned to the ${this.physPageSize}-byte page`);
    }
  }

  #checkLength(n: number): void {
    if (typeof n !== 'number') {
      throw refuse(TypeError, 'ERR_INVALID_ARG_TYPE', `length must be a number, got ${typeof n}`);
    }
    if (!Number.isSafeInteger(n) || n <= 0 || n % this.physPageSize !== 0) {
      throw refuse(RangeError, 'ERR_INVALID_ARG_VALUE',
        `length ${n} is not a positive multiple of the ${this.physPageSize}-byte page`);
    }
  }

  static {
    guardReceivers(this, (o) => #reservations in o);
  }
}
