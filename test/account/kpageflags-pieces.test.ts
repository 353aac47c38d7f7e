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
