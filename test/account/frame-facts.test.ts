/**
 * frame-facts.ts against the kernel: a C target lays out frames whose PTEs are known (all
 * present and its own, half empty, read but never written (the zero page), shared with a forked
 * child, write-protected by userfaultfd), and /proc/PID/pagemap must say exactly that, frame by
 * frame. Invariant checked everywhere: present + swapped + none = pages, exclusive + shared = present.
 */
import { readFrameFacts, FrameFacts } from '../../src/account/frame-facts';
import { hostInfo } from '../../src/native/host';
import { itUnless } from '../support/thp';
import { ADVICE, Target, buildTarget, stopAll } from '../support/c-target';

const host = hostInfo();
const H = host.hugePageSize || 2 << 20;
const P = host.pageSize;
const NR = H / P;
const built = buildTarget();
const root = process.getuid?.() === 0;
const opts = { hugePage: H, pageSize: P, zero: true };

let t: Target;
let a = 0;
let wpMade = false;
beforeAll(async () => {
  if (built.reason) return;
  t = Target.start(built.bin!);
  a = await t.ok('map 5');
  await t.ok(`advise ${a} ${5 * H} ${ADVICE.nohugepage}`); // small pages: one PTE each
  await t.ok(`touch ${a} ${H} ${P}`); // frame 0: all present
  await t.ok(`touch ${a + H} ${H / 2} ${P}`); // frame 1: the first half
  await t.ok(`read ${a + 2 * H} ${H} ${P}`); // frame 2: read only: the zero page
  await t.ok(`touch ${a + 3 * H} ${H} ${P}`); // frame 3: shared with the child below
  await t.ok('fork');
  await t.ok(`touch ${a} ${H} ${P}`); // frame 0 written again: copied, its own once more
  await t.ok(`touch ${a + H} ${H / 2} ${P}`);
  await t.ok(`touch ${a + 4 * H} ${H} ${P}`); // frame 4: after the fork, its own
  wpMade = (await t.cmd(`uffd ${a + 4 * H} ${H} 2`)).rc === 0;
}, 30000);
afterAll(() => stopAll());

function check(f: FrameFacts): void {
  expect(f.present + f.swapped + f.none).toBe(f.pages);
  expect(f.exclusive + f.shared).toBe(f.present);
}

describe('readFrameFacts', () => {
  itUnless(built.reason, 'each frame as laid out: present, empty, exclusive, shared, zero page, uffd-wp', () => {
    const fs = readFrameFacts(t.pid, a, a + 5 * H, opts)!;
    expect(fs.map((f) => f.start)).toEqual([0, 1, 2, 3, 4].map((k) => a + k * H));
    fs.forEach(check);
    expect(fs[0]).toMatchObject({ pages: NR, present: NR, none: 0, exclusive: NR, shared: 0, uffdWp: 0 });
    expect(fs[1]).toMatchObject({ pages: NR, present: NR / 2, none: NR / 2, exclusive: NR / 2 });
    expect(fs[2]).toMatchObject({ present: NR, exclusive: 0, shared: NR, zero: root ? NR : null });
    expect(fs[3]).toMatchObject({ present: NR, exclusive: 0, shared: NR, zero: root ? 0 : null });
    expect(fs[4]).toMatchObject({ present: NR, exclusive: NR, uffdWp: wpMade ? NR : 0 });
  });

  itUnless(built.reason, 'a range that cuts frames counts only its own pages', () => {
    const fs = readFrameFacts(t.pid, a + H - 2 * P, a + H + 3 * P, opts)!;
    expect(fs.map((f) => ({ start: f.start, pages: f.pages, present: f.present }))).toEqual([
      { start: a, pages: 2, present: 2 },
      { start: a + H, pages: 3, present: 3 },
    ]);
  });

  it('a process that is gone reads as undefined; bad sizes are a RangeError; an empty range is no frames', () => {
    expect(readFrameFacts(2 ** 22 + 12345, 0, H, opts)).toBeUndefined();
    expect(() => readFrameFacts('self', 0, H, { hugePage: 3000, pageSize: P })).toThrow(RangeError);
    expect(readFrameFacts('self', H, H, opts)).toEqual([]);
  });
});
