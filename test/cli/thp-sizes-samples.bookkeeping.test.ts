/**
 * The exporter's per-size family from process facts (src/cli/readings.ts), bookkeeping only (no
 * kernel: the values are given): thpmaps' keys become the bounded labels kind, size, alignment;
 * the two partial series are always written where the sizes are visible; a group sums its
 * members and is not visible once one member's sizes are not (null: no root).
 */
import { processSamples, ProcessFacts } from '../../src/cli/readings';
import { Samples } from '../../src/cli/exposition';

const NAME = 'hugespan_process_pte_mapped_thp_by_size_bytes';
const facts = (pid: number, thpBySize: ProcessFacts['thpBySize']): ProcessFacts => ({ pid, comm: 'java', anonymous: 1 << 20, pmdMapped: 0, pteMappedThp: 65536, thpBySize, thpDisabled: false });
const series = (out: Samples) => out.list.filter((s) => s.family.name === NAME).map((s) => ({ ...s.labels, value: s.value }));

it('one process: a series per key, size "any" for partial, both partial series always', () => {
  const out = new Samples();
  processSamples([facts(7, { 'anon-thp-pte-aligned-64kB': 65536, 'file-thp-pte-unaligned-16kB': 16384 })], out);
  expect(series(out)).toEqual([
    { pid: '7', comm: 'java', kind: 'anon', size: 'any', alignment: 'partial', value: 0 },
    { pid: '7', comm: 'java', kind: 'file', size: 'any', alignment: 'partial', value: 0 },
    { pid: '7', comm: 'java', kind: 'anon', size: '64kB', alignment: 'aligned', value: 65536 },
    { pid: '7', comm: 'java', kind: 'file', size: '16kB', alignment: 'unaligned', value: 16384 },
  ]);
});

it('a group sums its members; one member not visible makes the group not visible (no series)', () => {
  const out = new Samples();
  processSamples([facts(7, { 'anon-thp-pte-aligned-64kB': 65536 }), facts(8, { 'anon-thp-pte-aligned-64kB': 65536, 'anon-thp-pte-partial': 4096 })], out, 'comm');
  expect(series(out)).toEqual([
    { comm: 'java', kind: 'anon', size: 'any', alignment: 'partial', value: 4096 },
    { comm: 'java', kind: 'file', size: 'any', alignment: 'partial', value: 0 },
    { comm: 'java', kind: 'anon', size: '64kB', alignment: 'aligned', value: 131072 },
  ]);
  const hidden = new Samples();
  processSamples([facts(7, { 'anon-thp-pte-aligned-64kB': 65536 }), facts(8, null)], hidden, 'comm');
  expect(series(hidden)).toEqual([]);
  const alone = new Samples();
  processSamples([facts(9, null)], alone);
  expect(series(alone)).toEqual([]);
});
