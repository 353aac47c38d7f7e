/**
 * LinuxMemory: the Memory primitives on real memory, through the addon.
 * Invariant: every call names a range inside one reservation this object made; anything
 * else is refused before the addon is asked (which would refuse it again).
 */
import { binding } from '../native/binding';
import { Mapping } from '../native/mapping';
import { hugePageSize } from '../native/host';
import type { Advice, Memory } from './memory';

export class LinuxMemory implements Memory {
  readonly physPageSize = binding.pageSize();
  readonly physHugePageSize: number;
  readonly #reservations = new Map<number, Mapping>();

  /** `hugePages: false` models a host without THP (physHugePageSize 0) on this one. */
  constructor(options: { hugePages?: boolean } = {}) {
    this.physHugePageSize = options.hugePages === false ? 0 : hugePageSize();
  }

  reserve(n: number, align: number): number {
    const m = new Mapping(n, { align });
    this.#reservations.set(m.address, m);
    return m.address;
  }

  commit(v: number, n: number): void {
    this.#owned(v, n);
    binding.commit(v, n);
  }

  madvise(v: number, n: number, advice: Advice): void {
    this.#owned(v, n);
    binding.madvise(v, n, advice);
  }

  unmap(v: number): void {
    const m = this.#reservations.get(v);
    if (!m) throw notOwned(v, 0);
    m.unmap();
    this.#reservations.delete(v);
  }

  /** Write one byte per OS page of committed memory (what a program's first use does). */
  touch(v: number, n: number, byte = 1): void {
    this.#owned(v, n);
    binding.touch(v, n, byte);
  }

  /** `count` random 8-byte reads over the ranges, timed inside the addon. */
  randomReads(ranges: readonly (readonly [number, number])[], count: number, seed = 1): { ns: number; reads: number } {
    const flat = new Float64Array(ranges.length * 2);
    ranges.forEach(([v, n], i) => {
      this.#owned(v, n);
      flat[2 * i] = v;
      flat[2 * i + 1] = n;
    });
    const r = binding.randomReads(flat, count, seed);
    return { ns: r.ns, reads: r.reads };
  }

  /** The reservations, for verification: [address, length]. */
  reservations(): [number, number][] {
    return [...this.#reservations.values()].map((m) => [m.address, m.length]);
  }

  /** Unmap every reservation (idempotent). */
  close(): void {
    for (const v of [...this.#reservations.keys()]) this.unmap(v);
  }

  #owned(v: number, n: number): void {
    for (const m of this.#reservations.values()) if (v >= m.address && v + n <= m.end) return;
    throw notOwned(v, n);
  }
}

function notOwned(v: number, n: number): Error {
  return Object.assign(new RangeError(`The range 0x${Number(v).toString(16)}+${n} is not inside a reservation of this LinuxMemory`), {
    code: 'ERR_HUGESPAN_NOT_OWNED',
  });
}
