/**
 * Property test on real memory: one seeded sequence of alloc/free/scavenge drives two heaps in
 * lockstep — one over FakeMemory (the model of the kernel's flags), one over real memory. After
 * every op: the heap's invariants hold (tiling, coalescing, count = recount), the kernel's
 * hg/nh flags for every huge page frame equal the model's, and in-use spans are fully present. A failure names the seed and op to replay.
 * `npm test` runs 300 ops per run for the first three policies (the op sequence is seeded: a
 * longer run replays these first); `npm run stress` runs 2 000 (HUGESPAN_AGREE_OPS). A run that
 * passes 10 s says how far it got.
 */
import { MHeap } from '../../src/heap/mheap';
import type { Span } from '../../src/heap/span';
import { Rand } from '../../src/heap/rand';
import { Sys } from '../../src/sys/sys';
import { FakeMemory } from '../../src/sys/fake';
import { LinuxMemory } from '../../src/sys/linux';
import { readSmaps, vmaAt } from '../../src/native/smaps';
import { coverage } from '../../src/native/coverage';
import { hugePageSize } from '../../src/native/host';
import { itExact, MiB } from '../support/thp';
import { heavyCount, progress } from '../support/child';
import type { PolicyName } from '../../src/heap/policy';

const H = hugePageSize();
// Each op reads smaps of the jest worker (~380 VMAs: ~3 ms of kernel time and ~2 ms of parsing
// on an idle 2-core VM, three times that under load): that, not the heap, is the cost.
const OPS = heavyCount('HUGESPAN_AGREE_OPS', 150);
/** The later policies' runs: 150 in npm test (past hpa's hugify delay at op 100), raised with OPS by npm run stress. */
const LATER_OPS = Math.max(150, Math.round((OPS * 2) / 3));

function kernelFlag(vmas: ReturnType<typeof readSmaps>, frame: number): string {
  const v = vmaAt(vmas, frame);
  if (!v) return 'unmapped';
  const flag = v.vmFlags.includes('nh') ? 'nh' : v.vmFlags.includes('hg') ? 'hg' : 'none';
  // A frame split across VMAs carries whatever each part says: the model calls that mixed.
  return v.end >= frame + H ? flag : 'mixed';
}

function run(seed: number, policy: PolicyName, thp: 'always' | 'host', ops = OPS): void {
  const fake = new FakeMemory({ physHugePageSize: H });
  const real = new LinuxMemory();
  const opts = { arenaBytes: 96 * MiB, growBytes: 32 * MiB, policy };
  const model = new MHeap(new Sys(fake, { thp }), opts);
  const heap = new MHeap(new Sys(real, { thp }), opts);
  const live: [Span, Span][] = [];
  const rand = new Rand(seed);
  let told = Date.now();
  try {
    for (let op = 0; op < ops; op++) {
      if (Date.now() - told > 10000) {
        progress(`kernel agrees, seed ${seed} ${policy}/${thp}: op ${op} of ${ops}`);
        told = Date.now();
      }
      model.tick(op * 100);
      heap.tick(op * 100);
      const desc = step(rand, model, heap, fake, real, live);
      try {
        agree(model, heap, fake);
      } catch (e) {
        throw new Error(`seed ${seed}, ${policy}/${thp}, op #${op} ${desc}: ${(e as Error).message}`);
      }
    }
  } finally {
    real.close();
  }
}

/** One random op on both heaps; returns its description. */
function step(rand: Rand, model: MHeap, heap: MHeap, fake: FakeMemory, real: LinuxMemory, live: [Span, Span][]): string {
  const what = rand.float();
  if (what < 0.5 || live.length === 0) {
    const npages = rand.float() < 0.8 ? 1 + rand.int(64) : 64 + rand.int(600);
    let a: Span;
    try {
      a = model.alloc(npages);
    } catch {
      expect(() => heap.alloc(npages)).toThrow(); // exhausted in both, or in neither
      return `alloc(${npages}) refused`;
    }
    const b = heap.alloc(npages);
    fake.touch(a.base, a.bytes);
    real.touch(b.base, b.bytes);
    live.push([a, b]);
    return `alloc(${npages})`;
  }
  if (what < 0.92) {
    const k = rand.int(live.length);
    const [a, b] = live[k];
    live[k] = live[live.length - 1];
    live.pop();
    model.free(a);
    heap.free(b);
    return `free(#${k})`;
  }
  const n = rand.int(16 * MiB);
  expect(heap.scavenge(n)).toBe(model.scavenge(n));
  return `scavenge(${n})`;
}

function agree(model: MHeap, heap: MHeap, fake: FakeMemory): void {
  heap.checkInvariants();
  const rel = (h: MHeap) => h.snapshot().spans.map((s) => ({ ...s, base: s.base - h.arenaBase }));
  expect(rel(heap)).toEqual(rel(model));

  const vmas = readSmaps();
  const kernel: string[] = [];
  const modelled: string[] = [];
  for (let off = 0; off < heap.heapSys; off += H) {
    kernel.push(`${off / H}:${kernelFlag(vmas, heap.arenaBase + off)}`);
    modelled.push(`${off / H}:${fake.frameFlags(model.arenaBase + off)}`);
  }
  expect(kernel).toEqual(modelled);

  // In-use spans were written, so every page is present. Scavenged spans are NOT asserted
  // empty: a neighbour's fault on an `hg` frame brings in a whole huge page, scavenged pages
  // included, and a later split leaves them present as small pages — THP's own RSS bloat,
  // which the lab reports rather than this test hiding.
  const runs = coverage('self', heap.arenaBase, heap.arenaBase + heap.heapSys).runs;
  const short: string[] = [];
  let r = 0;
  for (const s of heap.spans()) {
    if (s.state !== 'inUse') continue;
    while (r < runs.length && runs[r].end <= s.base) r++;
    let present = 0;
    for (let k = r; k < runs.length && runs[k].start < s.end; k++) present += Math.min(runs[k].end, s.end) - Math.max(runs[k].start, s.base);
    if (present !== s.bytes) short.push(`span at +${s.base - heap.arenaBase}: ${present} of ${s.bytes} bytes present`);
  }
  expect(short).toEqual([]);
}

describe(`the kernel's flags agree with the model after every op (${OPS} ops per run)`, () => {
  for (const [seed, policy, thp] of [
    [1, 'coalesce', 'always'],
    [2, 'none', 'always'],
    [3, 'coalesce', 'host'],
  ] as const) {
    itExact(`seed ${seed}, policy ${policy}, thp ${thp}`, () => run(seed, policy, thp), 120000);
  }
  // The later policies (hpa's 10 s hugify delay passes at op 100 on this test's 100 ms clock).
  for (const [seed, policy, thp] of [
    [4, 'density', 'host'],
    [5, 'filler', 'always'],
    [6, 'hpa', 'host'],
  ] as const) {
    itExact(`seed ${seed}, policy ${policy}, thp ${thp} (${LATER_OPS} ops)`, () => run(seed, policy, thp, LATER_OPS), 120000);
  }
});
