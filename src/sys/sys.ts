/**
 * The runtime's OS layer (mem_linux.go), in the runtime's words: sysReserve, sysMap, sysUsed,
 * sysHugePage, sysUnused, sysFree. The heap never calls madvise itself; it calls these.
 * Invariant: `calls` counts every primitive that returned, by kind, so callers can price an
 * operation in madvise calls, and `latency` holds every madvise's duration on real memory.
 *
 * Against `runtime/mem_linux.go` at go1.13:
 *
 * | here | runtime |
 * |---|---|
 * | `sysUnused`: `MADV_NOHUGEPAGE` on the huge pages holding an unaligned start or end, one call when they are adjacent | `sysUnused` (head/tail, "do this in one call") |
 * | then `MADV_FREE` (default, `release: 'free'`) | `sysUnused`: `adviseUnused = _MADV_FREE` (Linux ≥ 4.5, falling back to `MADV_DONTNEED` on `EINVAL`) |
 * | `release: 'dontneed'` | `GODEBUG=madvdontneed=1` (Go 1.12+), the default from Go 1.16 (`debug.madvdontneed = 1`) |
 * | `sysUsed` = `sysHugePage` on the whole huge pages inside the range | `sysUsed` (go1.13 calls `sysHugePage` only) |
 * | `sysHugePage`: `MADV_HUGEPAGE` on the range rounded inwards to huge pages | `sysHugePage` |
 * | `edges: false` skips the `NOHUGEPAGE` marks (a policy's option, not Go 1.13) | Go 1.21 dropped them (`mem_linux.go` at go1.21.0) |
 * | `thp: 'always'` marks the reservation `MADV_HUGEPAGE` once | not the runtime: it emulates a host with THP `enabled=always` on a host set to `madvise` |
 *
 * Go 1.13 ignores madvise's errors here; this layer lets them throw (the addon's memory is the
 * lab's own, so an error is a bug to see, not a condition to survive).
 */

import type { Advice, Memory } from './memory';
import { ADVICE } from './memory';
import { argError, boolArg, functionArg, guardReceivers, intArg, objectArg, objectField, oneOfArg, optional, optionsArg, uintArg } from '../native/args';

export type SysCall = 'reserve' | 'commit' | 'unmap' | Advice;
export type SysCalls = Record<SysCall, number>;

export interface SysOptions {
  /**
   * How sysUnused gives memory back: MADV_FREE (default, as Go 1.13: the kernel takes the pages
   * only under memory pressure, so RSS may not drop) or MADV_DONTNEED (Go ≥ 1.16, or
   * GODEBUG=madvdontneed=1: RSS drops at once).
   */
  release?: 'dontneed' | 'free';
  /** sysUnused marks the partial huge pages at its ends MADV_NOHUGEPAGE (default true, as Go 1.13). */
  edges?: boolean;
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

/**
 * A Memory, checked once: its page sizes are read here (a throwing getter is refused with a
 * code) and must be powers of two, and its four primitives must be functions.
 */
function memoryArg(mem: unknown): Memory {
  const m = objectArg(mem, 'mem');
  const page = intArg(objectField(m, 'physPageSize', 'mem'), 'mem.physPageSize', 1, 2 ** 30);
  const huge = intArg(objectField(m, 'physHugePageSize', 'mem'), 'mem.physHugePageSize', 0, 2 ** 40);
  for (const [name, v] of [['mem.physPageSize', page], ['mem.physHugePageSize', huge]] as const) {
    if (v !== 0 && 2 ** Math.round(Math.log2(v)) !== v) throw argError(RangeError, 'ERR_INVALID_ARG_VALUE', `The "${name}" property must be a power of two. Received ${v}`);
  }
  for (const f of ['reserve', 'commit', 'madvise', 'unmap']) functionArg(objectField(m, f, 'mem'), `mem.${f}`);
  return m as Memory;
}

export class Sys {
  readonly mem: Memory;
  readonly physPageSize: number;
  /** 0 when the host has no huge pages: every huge-page step is then skipped. */
  readonly physHugePageSize: number;
  readonly release: 'dontneed' | 'free';
  readonly thp: 'always' | 'host';
  /** Set by the heap from its policy (HeapPolicy.nohugepageEdges). */
  get edges(): boolean {
    return this.#edges;
  }
  set edges(on: boolean) {
    this.#edges = boolArg(on, 'edges');
  }
  #edges = true;
  /**
   * Nanoseconds of every madvise made through this layer, in order (a Float64Array grown by
   * doubling); only when `timed` is set, so bookkeeping tests pay nothing.
   */
  private lat = new Float64Array(0);
  /** Each timed call's length in bytes and advice (index into ADVICE), parallel to `lat`. */
  private latBytes = new Float64Array(0);
  private latAdvice = new Uint8Array(0);
  private nLat = 0;
  get timed(): boolean {
    return this.#timed;
  }
  set timed(on: boolean) {
    this.#timed = boolArg(on, 'timed');
  }
  #timed = false;
  private readonly counts: SysCalls = zeroCalls();

  constructor(mem: Memory, opts?: SysOptions) {
    const m = memoryArg(mem);
    const o = optionsArg<SysOptions>(opts, 'opts', ['release', 'edges', 'thp']);
    this.release = oneOfArg(o.release ?? 'free', 'opts.release', ['dontneed', 'free'] as const);
    this.edges = optional(o.edges, boolArg, 'opts.edges') ?? true;
    this.thp = oneOfArg(o.thp ?? 'always', 'opts.thp', ['always', 'host'] as const);
    this.mem = m;
    this.physPageSize = m.physPageSize;
    this.physHugePageSize = m.physHugePageSize;
  }

  /** Whether `o` is a Sys this constructor made (a heap takes no other). */
  static is(o: unknown): o is Sys {
    return typeof o === 'object' && o !== null && #brand in o;
  }

  readonly #brand = true;

  static {
    guardReceivers(this, (o) => #brand in o);
  }

  /** Primitive calls made so far, by kind (live view). */
  get calls(): Readonly<SysCalls> {
    return this.counts;
  }

  /** Reserve at least n bytes of address space, aligned to (and rounded up to) the huge page, or the OS page without them. */
  sysReserve(n: number): number {
    uintArg(n, 'n');
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
    uintArg(v, 'v');
    uintArg(n, 'n');
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
    uintArg(v, 'v');
    uintArg(n, 'n');
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
    uintArg(v, 'v');
    uintArg(n, 'n');
    const h = this.physHugePageSize;
    if (h !== 0 && this.#edges) {
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
    uintArg(v, 'v');
    this.mem.unmap(v);
    this.counts.unmap++;
  }

  /** The counted madvise primitive, for the runtime's functions above. (The verify layer's
   * collapse pass goes to the Memory directly: it is khugepaged's work, not the heap's.) */
  madvise(v: number, n: number, advice: Advice): void {
    uintArg(v, 'v');
    uintArg(n, 'n');
    oneOfArg(advice, 'advice', ADVICE);
    if (!this.#timed) {
      this.mem.madvise(v, n, advice);
    } else {
      const t0 = process.hrtime.bigint();
      this.mem.madvise(v, n, advice);
      this.#record(Number(process.hrtime.bigint() - t0), n, advice);
    }
    this.counts[advice]++;
  }

  /** The madvise latencies recorded so far (ns), in call order. */
  latencies(): Float64Array {
    return this.lat.subarray(0, this.nLat);
  }

  /** Each timed madvise's length (bytes) and advice, parallel to latencies(): to compare like with like. */
  latencyCalls(): { bytes: Float64Array; advice: Advice[] } {
    return { bytes: this.latBytes.subarray(0, this.nLat), advice: Array.from(this.latAdvice.subarray(0, this.nLat), (k) => ADVICE[k]) };
  }

  #record(ns: number, bytes: number, advice: Advice): void {
    if (this.nLat === this.lat.length) {
      const n = Math.max(1024, 2 * this.lat.length);
      const grown = new Float64Array(n);
      grown.set(this.lat);
      this.lat = grown;
      const b = new Float64Array(n);
      b.set(this.latBytes);
      this.latBytes = b;
      const a = new Uint8Array(n);
      a.set(this.latAdvice);
      this.latAdvice = a;
    }
    this.latBytes[this.nLat] = bytes;
    this.latAdvice[this.nLat] = ADVICE.indexOf(advice);
    this.lat[this.nLat++] = ns;
  }

  snapshotCalls(): SysCalls {
    return { ...this.counts };
  }
}
