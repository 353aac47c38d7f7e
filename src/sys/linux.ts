/**
 * LinuxMemory: the Memory primitives on real memory, through the addon.
 * Invariant: the runtime's OS layer speaks in addresses, but every call here resolves its
 * range to the one reservation (a Mapping) this object made that wholly holds it, and acts
 * through that Mapping's handle with an offset: a range outside its own reservations is
 * refused here, and nothing here can reach memory it did not map.
 */
import { binding } from '../native/binding';
import { Mapping } from '../native/mapping';
import { hugePageSize } from '../native/host';
import { uintArg, argError, received, boolArg, guardReceivers, objectField, optional, optionsArg, arrayArg } from '../native/args';
import type { Advice, Memory } from './memory';

export class LinuxMemory implements Memory {
  readonly physPageSize = binding.pageSize();
  readonly physHugePageSize: number;
  // By address, ascending: reservations never overlap, so a binary search finds the owner.
  #reservations: Mapping[] = [];

  /** `hugePages: false` models a host without THP (physHugePageSize 0) on this one. */
  constructor(options?: { hugePages?: boolean }) {
    const o = optionsArg<{ hugePages?: boolean }>(options, 'options', ['hugePages']);
    this.physHugePageSize = optional(o.hugePages, boolArg, 'options.hugePages') === false ? 0 : hugePageSize();
  }

  static {
    guardReceivers(this, (o) => #reservations in o);
  }

  reserve(n: number, align: number): number {
    const m = new Mapping(n, { align });
    const i = this.#insertAt(m.address);
    this.#reservations.splice(i, 0, m);
    return m.address;
  }

  commit(v: number, n: number): void {
    const [m, off] = this.#owner(v, n);
    m.commit(off, n);
  }

  madvise(v: number, n: number, advice: Advice): void {
    const [m, off] = this.#owner(v, n);
    m.advise(advice, off, n);
  }

  unmap(v: number): void {
    uintArg(v, 'v');
    const i = this.#insertAt(v);
    const m = this.#reservations[i];
    if (!m || m.address !== v) throw notOwned(v, 0);
    m.unmap();
    this.#reservations.splice(i, 1);
  }

  /** Write one byte per OS page of committed memory (what a program's first use does). */
  touch(v: number, n: number, byte = 1): void {
    const [m, off] = this.#owner(v, n);
    m.touch(off, n, byte);
  }

  /** `count` random 8-byte reads over the ranges, timed inside the addon. */
  randomReads(ranges: readonly (readonly [number, number])[], count: number, seed = 1): { ns: number; reads: number } {
    const parts = arrayArg(ranges, 'ranges').map((r, i) => {
      if (!Array.isArray(r)) throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "ranges[${i}]" argument must be [address, length]. ${received(r)}`);
      const [v, n] = [objectField(r, '0', `ranges[${i}]`), objectField(r, '1', `ranges[${i}]`)];
      const [m, off] = this.#owner(v, n);
      return [m, off, n as number] as const;
    });
    return Mapping.randomReads(parts, count, seed);
  }

  /** The reservations, for verification: [address, length]. */
  reservations(): [number, number][] {
    return this.#reservations.map((m) => [m.address, m.length]);
  }

  /** Unmap every reservation (idempotent). */
  close(): void {
    for (const m of this.#reservations) m.unmap();
    this.#reservations = [];
  }

  /** Index of the first reservation starting at or above `v`. */
  #insertAt(v: number): number {
    let lo = 0;
    let hi = this.#reservations.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#reservations[mid].address < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The reservation wholly holding [v, v + n), and v's offset in it. */
  #owner(v: unknown, n: unknown): [Mapping, number] {
    const a = uintArg(v, 'v');
    const len = uintArg(n, 'n');
    let i = this.#insertAt(a);
    if (this.#reservations[i]?.address !== a) i--;
    const m = this.#reservations[i];
    if (!m || a < m.address || a - m.address + len > m.length) throw notOwned(a, len);
    return [m, a - m.address];
  }
}

function notOwned(v: number, n: number): Error {
  return Object.assign(new RangeError(`The range 0x${v.toString(16)}+${n} is not inside a reservation of this LinuxMemory`), {
    code: 'ERR_HUGESPAN_NOT_OWNED',
  });
}
