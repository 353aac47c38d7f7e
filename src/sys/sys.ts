/**
 * The runtime's OS layer (mem_linux.go), in the runtime's words: sysReserve, sysMap, sysUsed,
 * sysHugePage, sysUnused, sysFree. The heap never calls madvise itself; it calls these.
 * Invariant: `calls` counts every primitive that returned, by kind, so callers can price an
 * operation in madvise calls.
 */

import type { Advice, Memory } from './memory';
import { ADVICE } from './memory';

export type SysCall = 'reserve' | 'commit' | 'unmap' | Advice;
export type SysCalls = Record<SysCall, number>;

export interface SysOptions {
  /** How sysUnused gives memory back: MADV_DONTNEED (default; RSS drops at once, Go ≥ 1.16) or MADV_FREE (Go 1.13). */
  release?: 'dontneed' | 'free';
  /**
   * `always` (default) marks each reservation MADV_HUGEPAGE once, emulating a host whose THP
   * `enabled` is `always`, where the runtime's NOHUGEPAGE marks did their damage. `host` leaves
   * the host's setting alone.
   */
  thp?: 'always' | 'host';
}

function zeroCalls(): SysCalls {
  const calls = { reserve: 0, commit: 0, unmap: 0 } as SysCalls;
  for (const advice of ADVICE) calls[advice] = 0;
  return calls;
}

function checkOption<T extends string>(name: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value)) {
    throw Object.assign(new RangeError(`${name} must be one of ${allowed.join(', ')}; got ${String(value)}`),
      { code: 'ERR_INVALID_ARG_VALUE' });
  }
  return value;
}

export class Sys {
  readonly mem: Memory;
  readonly physPageSize: number;
  /** 0 when the host has no huge pages: every huge-page step is then skipped. */
  readonly physHugePageSize: number;
  readonly release: 'dontneed' | 'free';
  readonly thp: 'always' | 'host';
  private readonly counts: SysCalls = zeroCalls();

  constructor(mem: Memory, opts: SysOptions = {}) {
    this.mem = mem;
    this.physPageSize = mem.physPageSize;
    this.physHugePageSize = mem.physHugePageSize;
    this.release = checkOption('release', opts.release ?? 'dontneed', ['dontneed', 'free']);
    this.thp = checkOption('thp', opts.thp ?? 'always', ['always', 'host']);
  }

  /** Primitive calls made so far, by kind (live view). */
  get calls(): Readonly<SysCalls> {
    return this.counts;
  }

  /** Reserve at least n bytes of address space, aligned to (and rounded up to) the huge page, or the OS page without them. */
  sysReserve(n: number): number {
    const align = this.physHugePageSize || this.physPageSize;
    const size = Math.ceil(n / align) * align;
    const v = this.mem.reserve(size, align);
    this.counts.reserve++;
    if (this.thp === 'always' && this.physHugePageSize !== 0) {
      this.madvise(v, size, 'hugepage');
    }
    return v;
  }

  /** Commit [v, v+n) of a reservation; the memory is not resident until touched. */
  sysMap(v: number, n: number): void {
    this.mem.commit(v, n);
    this.counts.commit++;
  }

  /**
   * Memory is about to be used again. Only undoes NOHUGEPAGE on whole huge pages inside [v, v+n):
   * the edge huge pages may stay `nh` even when the allocation covers them, because when a
   * neighbour is freed sysUnused would mark them again anyway.
   */
  sysUsed(v: number, n: number): void {
    this.sysHugePage(v, n);
  }

  /** MADV_HUGEPAGE on the whole huge pages inside [v, v+n), if there are any. */
  sysHugePage(v: number, n: number): void {
    const h = this.physHugePageSize;
    if (h === 0) return;
    const beg = Math.ceil(v / h) * h;
    const end = Math.floor((v + n) / h) * h;
    if (beg < end) this.madvise(beg, end - beg, 'hugepage');
  }

  /**
   * Give [v, v+n) back to the OS. First MADV_NOHUGEPAGE on the huge pages holding an unaligned
   * edge — only those, never the whole range: each flag change may split a VMA and a process has
   * a VMA limit — so the kernel does not refill a partly released huge page. Then release.
   */
  sysUnused(v: number, n: number): void {
    const h = this.physHugePageSize;
    if (h !== 0) {
      const head = v % h !== 0 ? v - (v % h) : undefined;
      const tail = (v + n) % h !== 0 ? v + n - 1 - ((v + n - 1) % h) : undefined;
      if (head !== undefined && tail !== undefined && tail - head <= h) {
        // The same huge page or two adjacent ones: one call.
        this.madvise(head, tail + h - head, 'nohugepage');
      } else {
        if (head !== undefined) this.madvise(head, h, 'nohugepage');
        if (tail !== undefined) this.madvise(tail, h, 'nohugepage');
      }
    }
    this.madvise(v, n, this.release);
  }

  /** Unmap a whole reservation (v as sysReserve returned it). */
  sysFree(v: number): void {
    this.mem.unmap(v);
    this.counts.unmap++;
  }

  /** The counted madvise primitive, for the runtime's functions above. (The verify layer's
   * collapse pass goes to the Memory directly: it is khugepaged's work, not the heap's.) */
  madvise(v: number, n: number, advice: Advice): void {
    this.mem.madvise(v, n, advice);
    this.counts[advice]++;
  }

  snapshotCalls(): SysCalls {
    return { ...this.counts };
  }
}
