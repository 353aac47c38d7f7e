/**
 * A small seeded PRNG (splitmix32): the same seed gives the same sequence on every run, so treap
 * shapes, property tests and lab workloads replay exactly. Not for anything security-related.
 */
import { guardReceivers, intArg, numberArg, thisError } from '../native/args';

export class Rand {
  private state: number;

  constructor(seed: number) {
    this.state = numberArg(seed, 'seed') >>> 0;
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    if (!(typeof this === 'object' && this !== null && #brand in this)) throw thisError('Rand', this); // inline: the treap draws one per insert
    this.state = (this.state + 0x9e3779b9) | 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** A uniform float in [0, 1). */
  float(): number {
    return this.next() / 0x1_0000_0000;
  }

  /** A uniform integer in [0, n); n must be a positive integer ≤ 2^32. */
  int(n: number): number {
    intArg(n, 'n', 1, 2 ** 32);
    return Math.floor(this.float() * n);
  }

  static {
    guardReceivers(this, (o) => #brand in o, ['next']);
  }

  readonly #brand = true;
}
