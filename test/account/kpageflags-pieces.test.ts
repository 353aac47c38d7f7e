/**
 * A THP-by-PTE read over more address space than one addon call may read (maxThpRangeBytes,
 * 1 TiB on 4 KiB pages) goes in pieces: a 2 TiB reservation is answered, not refused.
 */
import { Mapping } from '../../src/native/mapping';
import { binding } from '../../src/native/binding';
import { thpRanges } from '../../src/account/kpageflags';

it('thpRanges over a reservation larger than one call reads', () => {
  const limit = binding.limits().maxThpRangeBytes;
  let m: Mapping;
  try {
    m = new Mapping(2 * limit);
  } catch (e) {
    console.log(`skipped: cannot reserve ${2 * limit} bytes here (${(e as Error).message})`);
    return;
  }
  try {
    const r = thpRanges('self', [m.address, m.address + m.length]);
    // Nothing is present in a reservation: no THP; undefined where frame numbers are hidden (not root).
    if (process.geteuid!() === 0) expect(Array.from(r!)).toEqual([]);
    else expect(r === undefined || r.length === 0).toBe(true);
  } finally {
    m.unmap();
  }
});

it('rangeBatches cuts ranges at the byte limit, in order, carrying each record\'s fields to every part', async () => {
  const { rangeBatches } = await import('../../src/account/kpageflags');
  const pairs = [...rangeBatches(Float64Array.from([0, 10, 20, 25]), 4)].map((b) => Array.from(b));
  expect(pairs).toEqual([[0, 4], [4, 8], [8, 10, 20, 22], [22, 25]]);
  const triples = [...rangeBatches(Float64Array.from([0, 6, 7, 10, 12, 9]), 5, 3)].map((b) => Array.from(b));
  expect(triples).toEqual([[0, 5, 7], [5, 6, 7, 10, 12, 9]]);
  expect([...rangeBatches(new Float64Array(0), 5)]).toEqual([]);
});
