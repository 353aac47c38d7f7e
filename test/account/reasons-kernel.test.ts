/**
 * Every reason is a prediction, and the kernel checks it: a C target makes each case (fork-shared
 * pages, userfaultfd-armed holes and write protection, a private /dev/zero map, mlock, MADV_FREE,
 * prctl, too few present pages …), `processReport` names its frames, then the kernel acts —
 * khugepaged with its knobs turned fast for a few seconds (restored in `finally`), then
 * MADV_COLLAPSE in the target. Invariant: what REASONS says of a reason (`will`, `errno`) is what
 * happened: frames called "khugepaged will" got collapsed by khugepaged while those called
 * "won't" did not after two full scans past them (a control in the same process did);
 * MADV_COLLAPSE collapsed every frame REASONS says it will, and failed on the rest with the errno
 * REASONS names. Cases the host cannot make are skipped with the reason printed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { processReport } from '../../src/account/report';
import { REASONS, Reason, pmdMode, reasonContext } from '../../src/account/reasons';
import { readFrameFacts } from '../../src/account/frame-facts';
import type { ProcessReport } from '../../src/account/schema';
import { hostInfo } from '../../src/native/host';
import { readSmaps } from '../../src/native/smaps';
import { SCAN_REASON, itUnless, thpReason } from '../support/thp';
import { pagemapScanSupported } from '../../src/native/coverage';
import { progress } from '../support/child';
import { ADVICE, Target, buildTarget, stopAll } from '../support/c-target';

const host = hostInfo();
const H = host.hugePageSize || 2 << 20;
const P = host.pageSize;
const NR = H / P;
const KH = '/sys/kernel/mm/transparent_hugepage/khugepaged';
const mode = pmdMode(reasonContext(host, false));
const built = buildTarget();
const root = process.getuid?.() === 0;
/** max_ptes_none while the report is read and khugepaged acts (lowered as root: fewer present pages than NR - this are too-few-present). */
const NONE = root ? NR / 2 : (host.thp.khugepaged.max_ptes_none ?? NR - 1);

/** The 2 MiB size off host-wide: only the cases that show it (host-thp-never, and what still stops MADV_COLLAPSE) are made. */
const never = mode === 'never';
const baseReason = (pagemapScanSupported() ? undefined : SCAN_REASON) ?? built.reason ?? (never ? undefined : thpReason);
/** The tests of cases made only where THP is on. */
const onlyOn = baseReason ?? (never ? 'the 2 MiB THP size is off on this host (never): the cases of a THP-on host cannot be made (this run checks host-thp-never)' : undefined);
const khugepagedReason = baseReason ?? (root ? undefined : "not root: khugepaged's knobs cannot be turned fast for the test");
/**
 * Whether this process may use userfaultfd, known before the tests are registered (the target's
 * own probe in beforeAll comes too late to skip by): root, or vm.unprivileged_userfaultfd = 1.
 */
const uffdAllowed = root || (() => {
  try {
    return fs.readFileSync('/proc/sys/vm/unprivileged_userfaultfd', 'utf8').trim() === '1';
  } catch {
    return false;
  }
})();
const uffdSkip = uffdAllowed ? undefined : 'not root and vm.unprivileged_userfaultfd is not 1: userfaultfd is not this process\'s to use';
const swapOn = fs.existsSync('/proc/swaps') && fs.readFileSync('/proc/swaps', 'utf8').trim().split('\n').length > 1;

/** One case: a region of the target made for a reason, and what the test expects of it. */
interface Case {
  name: string;
  target: Target;
  start: number;
  frames: number;
  /** The reason the region was made for. */
  reason: Reason;
  /**
   * The proviso of collapsible-waiting applies: nothing references the frame (khugepaged may skip
   * it, MADV_COLLAPSE collapses it), or a page of it is held (both refuse; MADV_COLLAPSE EAGAIN).
   */
  proviso?: 'unreferenced' | 'held';
  /** Frames on huge pages at the end of khugepaged's fast window. */
  hugeAfterKhugepaged?: number;
  /** Found by the report: every frame's reason (an already huge frame counts as 'huge'). */
  got?: (Reason | 'huge')[];
}

const cases: Case[] = [];
const CONTROL = 'control: small pages, advised, above every other region';
const reports = new Map<Target, ProcessReport>();
let uffdReason: string | undefined;
let childPid = 0;
let dzSplit = 0;
/** Knob values seen during the fast window that were not this test's (another test on the host changed them). */
const interference: string[] = [];
const knobs: Record<string, string> = {};
const willOf = (r: Reason) => REASONS.find((x) => x.code === r)!;

function readKnob(name: string): string {
  return fs.readFileSync(`${KH}/${name}`, 'utf8').trim();
}
function writeKnob(name: string, value: string): void {
  if (!(name in knobs)) knobs[name] = readKnob(name);
  fs.writeFileSync(`${KH}/${name}`, value);
}
function restoreKnobs(): void {
  // The budget first, then the pace (writing it wakes khugepaged: with the small budget), then
  // the threshold; the fast window ends even if a later restore throws.
  for (const name of ['pages_to_scan', 'scan_sleep_millisecs', 'max_ptes_none']) {
    if (name in knobs) fs.writeFileSync(`${KH}/${name}`, knobs[name]);
    delete knobs[name];
  }
}

/** AnonHugePages of the VMA that starts the case's region, from a fresh smaps read. */
function hugeBytes(c: Case): number {
  const v = readSmaps(c.target.pid).find((x) => x.start <= c.start && c.start < x.end);
  return v?.anonHugePages ?? 0;
}

/** The region's frames' reasons in the report: per frame where it walked them, else the VMA's reasons. */
function reasonsIn(r: ProcessReport, c: Case): (Reason | 'huge')[] {
  const out: (Reason | 'huge')[] = [];
  const vmas = r.vmas.filter((v) => Number(v.start) < c.start + c.frames * H && Number(v.end) > c.start);
  for (let k = 0; k < c.frames; k++) {
    const base = c.start + k * H;
    const f = vmas.flatMap((v) => v.frames).find((x) => Number(x.start) === base);
    if (f) out.push(f.reason);
    else {
      const v = vmas.find((x) => Number(x.start) <= base && base < Number(x.end));
      const rs = v ? (Object.keys(v.account.reasons) as Reason[]) : [];
      out.push(rs.length === 1 ? rs[0] : v && v.account.pmdMapped > 0 ? 'huge' : (rs.join('+') as Reason));
    }
  }
  return out;
}

async function region(t: Target, frames: number, setup: (a: number) => Promise<unknown>, name: string, reason: Reason, extra: Partial<Case> = {}): Promise<Case> {
  const start = await t.ok(`map ${frames}`);
  await t.ok(`advise ${start} ${frames * H} ${ADVICE.nohugepage}`); // small pages until the report: nothing collapses them early
  await setup(start);
  const c: Case = { name, target: t, start, frames, reason, ...extra };
  cases.push(c);
  return c;
}

const touch = (t: Target, a: number, bytes: number) => t.ok(`touch ${a} ${bytes} ${P}`);
/** The regions that get MADV_HUGEPAGE once every case is made (after max_ptes_none is lowered). */
const advised: Case[] = [];

/** Host THP off (npm run test:hosts -- never): khugepaged does not run, MADV_COLLAPSE still acts. */
async function makeNeverCases(): Promise<void> {
  const a = Target.start(built.bin!);
  advised.push(await region(a, 1, (s) => touch(a, s, H), 'THP never: advised, every page present', 'host-thp-never'));
  advised.push(await region(a, 1, (s) => touch(a, s, H / 4), 'THP never: advised, a quarter present', 'host-thp-never'));
  const plain = await a.ok('map 1');
  await touch(a, plain, H);
  cases.push({ name: 'THP never: not advised', target: a, start: plain, frames: 1, reason: 'host-thp-never' });
  const probe = await a.ok('map 1');
  const u = await a.cmd(`uffd ${probe} ${H} 1`);
  uffdReason = u.rc === 0 ? undefined : `userfaultfd is not available to this process (errno ${u.errno}: needs root or vm.unprivileged_userfaultfd = 1)`;
  // What stops MADV_COLLAPSE stops it whatever the host setting: the frame's reason wins.
  if (!uffdReason) advised.push(await region(a, 1, (s) => touch(a, s, H / 2).then(() => a.ok(`uffd ${s} ${H} 1`)).then(() => undefined), 'THP never: userfaultfd-registered, half empty', 'uffd-armed-holes'));
  const b = Target.start(built.bin!);
  await b.ok('prctl 1 0');
  advised.push(await region(b, 1, (s) => touch(b, s, H), 'THP never, and disabled for the process (prctl)', 'process-thp-disabled'));
}

beforeAll(async () => {
  if (baseReason) return;
  if (never) {
    await makeNeverCases();
    for (const x of advised) await x.target.ok(`advise ${x.start} ${x.frames * H} ${ADVICE.hugepage}`);
    for (const t of new Set(cases.map((x) => x.target))) reports.set(t, processReport(t.pid, { exact: true }));
    for (const x of cases) x.got = reasonsIn(reports.get(x.target)!, x);
    if (!root) return;
    // khugepaged's thread is stopped while THP is never; sped up anyway for 3 s, it collapses nothing.
    try {
      writeKnob('pages_to_scan', String(262144));
      writeKnob('scan_sleep_millisecs', '50');
      await new Promise((r) => setTimeout(r, 3000));
      for (const c of cases) c.hugeAfterKhugepaged = hugeBytes(c) / H;
    } finally {
      restoreKnobs();
    }
    return;
  }
  const a = Target.start(built.bin!);
  // The control is mapped first, so it lies above every other region (mmap hands out addresses
  // top down) and khugepaged, which scans an mm upwards, reaches it last; it is touched only
  // after the fork, so that only the shared region is shared with the child.
  const control = await region(a, 1, async () => undefined, CONTROL, 'collapsible-waiting');
  const shared = await region(a, 2, (s) => touch(a, s, 2 * H), 'fork-shared pages', 'shared-with-other-process');
  childPid = await a.ok('fork');
  await touch(a, control.start, H);
  advised.push(control, shared);
  advised.push(await region(a, 1, (s) => touch(a, s, (NR - NONE) * P), `${NR - NONE} present pages (max_ptes_none ${NONE})`, 'collapsible-waiting'));
  if (NR - NONE - 1 > 0) advised.push(await region(a, 1, (s) => touch(a, s, (NR - NONE - 1) * P), `${NR - NONE - 1} present pages (max_ptes_none ${NONE})`, 'too-few-present'));
  advised.push(await region(a, 1, (s) => a.ok(`mlock ${s} ${H}`).then(() => undefined), 'mlocked', 'collapsible-waiting'));
  // Nor is any other kind of anonymous map user space can make (kernel-ineligible is for special
  // and DAX mappings, which only drivers make): each is THPeligible 1, and collapses.
  for (const [kind, flags] of [['MAP_GROWSDOWN', 0x02 | 0x100], ['MAP_STACK', 0x02 | 0x20000], ['MAP_NORESERVE', 0x02 | 0x4000], ['MAP_DROPPABLE', 0x08]] as const) {
    const m = await a.cmd(`mapflags 1 ${flags}`);
    if (m.rc !== 0) {
      progress(`${kind}: this kernel refuses it (errno ${m.errno}): that case is not made`);
      continue;
    }
    await a.ok(`advise ${m.value} ${H} ${ADVICE.nohugepage}`);
    await touch(a, m.value, H);
    const c: Case = { name: `${kind}: anonymous, advised`, target: a, start: m.value, frames: 1, reason: 'collapsible-waiting' };
    cases.push(c);
    advised.push(c);
  }
  if (root) {
    // 300 pages read, never written: the zero page, which pagemap shows as present and not this
    // process's own, like a fork's pages; khugepaged counts it as empty, not shared: over the
    // lowered max_ptes_none it is too-few-present (never shared-with-other-process).
    advised.push(await region(a, 1, (s) => a.ok(`read ${s} ${300 * P} ${P}`).then(() => touch(a, s + 300 * P, H - 300 * P)), '300 zero-page PTEs, the rest written', NR - NONE <= NR - 300 ? 'collapsible-waiting' : 'too-few-present'));
  }
  advised.push(await region(a, 1, (s) => touch(a, s, H).then(() => a.ok(`advise ${s} ${H} ${ADVICE.free}`)).then(() => undefined), 'MADV_FREEd (nothing references it)', 'collapsible-waiting', { proviso: 'unreferenced' }));
  advised.push(await region(a, 1, (s) => touch(a, s, H).then(() => a.ok(`vmsplice ${s + 8 * P} ${P}`)), 'a page held by a pipe (vmsplice)', 'collapsible-waiting', { proviso: 'held' }));
  // A private /dev/zero map: anonymous memory, whatever smaps' path and inode say.
  const dz = await a.ok('devzero 1');
  await a.ok(`advise ${dz} ${H} ${ADVICE.nohugepage}`);
  await touch(a, dz, H);
  const devzero: Case = { name: 'private /dev/zero map, advised', target: a, start: dz, frames: 1, reason: 'collapsible-waiting' };
  cases.push(devzero);
  advised.push(devzero);
  // And one faulted in huge, then split by dropping a page: a THP mapped by PTEs, which only
  // kpageflags (root) tells. nohugepage after, so nothing collapses it back before the report.
  dzSplit = await a.ok('devzero 1');
  await a.ok(`advise ${dzSplit} ${H} ${ADVICE.hugepage}`);
  await touch(a, dzSplit, H);
  await a.ok(`advise ${dzSplit} ${P} ${ADVICE.dontneed}`);
  await a.ok(`advise ${dzSplit} ${H} ${ADVICE.nohugepage}`);
  if (mode === 'madvise') {
    const dz2 = await a.ok('devzero 1');
    await touch(a, dz2, H);
    cases.push({ name: 'private /dev/zero map, not advised', target: a, start: dz2, frames: 1, reason: 'madvise-mode-not-advised' });
    const plain = await a.ok('map 1');
    await touch(a, plain, H);
    cases.push({ name: 'anonymous, not advised', target: a, start: plain, frames: 1, reason: 'madvise-mode-not-advised' });
  }
  await region(a, 1, (s) => touch(a, s, H), 'advised nohugepage', 'vma-nohugepage');
  // A VMA of one frame's size that starts mid-frame: no whole frame inside it.
  const e = (await a.ok('map 1')) + H / 2;
  await a.ok(`advise ${e} ${H} ${ADVICE.nohugepage}`);
  await touch(a, e, H);
  const edge: Case = { name: 'a 2 MiB VMA straddling two frames', target: a, start: e, frames: 1, reason: 'frame-outside-vma' };
  cases.push(edge);
  advised.push(edge);
  // userfaultfd (root, or vm.unprivileged_userfaultfd): holes, no holes, write protection.
  const probe = await a.ok('map 1');
  const u = await a.cmd(`uffd ${probe} ${H} 1`);
  uffdReason = u.rc === 0 ? undefined : `userfaultfd is not available to this process (errno ${u.errno}: needs root or vm.unprivileged_userfaultfd = 1)`;
  if (!uffdReason) {
    advised.push(await region(a, 1, (s) => touch(a, s, H / 2).then(() => a.ok(`uffd ${s} ${H} 1`)).then(() => undefined), 'userfaultfd-registered, half the frame empty', 'uffd-armed-holes'));
    advised.push(await region(a, 1, (s) => touch(a, s, H).then(() => a.ok(`uffd ${s} ${H} 1`)).then(() => undefined), 'userfaultfd-registered, no hole', 'collapsible-waiting'));
    if (mode === 'madvise') {
      // Unadvised, so only hugespan collapse could act: and userfaultfd stops even that.
      const un = await a.ok('map 1');
      await touch(a, un, H / 2);
      await a.ok(`uffd ${un} ${H} 1`);
      cases.push({ name: 'userfaultfd-registered, unadvised, half empty', target: a, start: un, frames: 1, reason: 'uffd-armed-holes' });
    }
    const wp = await a.cmd('map 1');
    await a.ok(`advise ${wp.value} ${H} ${ADVICE.nohugepage}`);
    await touch(a, wp.value, H);
    const w = await a.cmd(`uffd ${wp.value} ${H} 2`);
    if (w.rc === 0) {
      const c: Case = { name: 'userfaultfd write-protected', target: a, start: wp.value, frames: 1, reason: 'uffd-wp-protected' };
      cases.push(c);
      advised.push(c);
    }
  }
  if (swapOn) {
    // MADV_PAGEOUT pushes the pages out to swap at once; more than max_ptes_swap of them.
    advised.push(await region(a, 1, async (s) => {
      await touch(a, s, H);
      await a.ok(`advise ${s} ${100 * P} ${ADVICE.pageout}`);
    }, 'swapped out beyond max_ptes_swap', 'too-many-swapped'));
  }
  // A private file mapping: its written pages are anonymous copies of the file's.
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-cow-')), 'f');
  fs.writeFileSync(file, Buffer.alloc(4 * H));
  const fm = await a.ok(`file 1 ${file}`);
  await a.ok(`advise ${fm} ${H} ${ADVICE.hugepage}`);
  await touch(a, fm, H);
  cases.push({ name: 'copy-on-write pages of a private file map', target: a, start: fm, frames: 1, reason: 'file-backed-vma' });

  // A process with THP disabled (prctl), and one disabled except where advised (Linux 6.18).
  const b = Target.start(built.bin!);
  await b.ok('prctl 1 0');
  advised.push(await region(b, 1, (s) => touch(b, s, H), 'THP disabled for the process (prctl)', 'process-thp-disabled'));
  const c = Target.start(built.bin!);
  const except = await c.cmd('prctl 1 2');
  if (except.rc === 0) {
    advised.push(await region(c, 1, (s) => touch(c, s, H), 'THP disabled except advised: an advised region', 'collapsible-waiting'));
    const plain = await c.ok('map 1');
    await touch(c, plain, H);
    // In madvise mode the case is the same as madvise-mode-not-advised (same prediction); in always mode, its own reason.
    cases.push({ name: 'THP disabled except advised: an unadvised region', target: c, start: plain, frames: 1, reason: mode === 'always' ? 'thp-disabled-except-advised' : 'madvise-mode-not-advised' });
  }

  if (root) writeKnob('max_ptes_none', String(NONE));
  try {
    for (const x of advised) await x.target.ok(`advise ${x.start} ${x.frames * H} ${ADVICE.hugepage}`);
    for (const t of new Set(cases.map((x) => x.target))) reports.set(t, processReport(t.pid, { exact: true }));
    for (const x of cases) x.got = reasonsIn(reports.get(x.target)!, x);
  } catch (e) {
    restoreKnobs();
    throw e;
  }
  if (!root) return;
  // The fast window: khugepaged scans 1 GiB of ranges per 50 ms wake, until every frame it will
  // collapse is huge and two full scans have passed everything (20 s at most).
  const full0 = Number(readKnob('full_scans'));
  const started = Date.now();
  try {
    writeKnob('pages_to_scan', String(262144));
    writeKnob('scan_sleep_millisecs', '50');
    const waiting = cases.filter((x) => !x.proviso && willOf(x.reason).will === 'khugepaged');
    while (Date.now() - started < 20000) {
      await new Promise((r) => setTimeout(r, 100));
      if (root && readKnob('max_ptes_none') !== String(NONE)) interference.push(`max_ptes_none ${readKnob('max_ptes_none')}`);
      if (Number(readKnob('full_scans')) >= full0 + 2 && waiting.every((x) => hugeBytes(x) === x.frames * H)) break;
    }
    // What khugepaged did, read before the knobs go back: with max_ptes_none restored, the next
    // scan may rightly collapse what was too-few-present under the lowered one.
    for (const c of cases) c.hugeAfterKhugepaged = hugeBytes(c) / H;
  } finally {
    restoreKnobs();
  }
  progress(`khugepaged window: ${Date.now() - started} ms, ${Number(readKnob('full_scans')) - full0} full scans`);
}, 60000);

afterAll(() => {
  restoreKnobs();
  stopAll();
});

describe('each case gets the reason it was made for', () => {
  itUnless(baseReason, 'the report names every frame of every case as predicted (khugepaged may have collapsed a waiting one already)', () => {
    for (const c of cases) {
      const expected = c.got!.map((g) => (g === 'huge' && willOf(c.reason).will === 'khugepaged' ? 'huge' : c.reason));
      expect({ case: c.name, reasons: c.got }).toEqual({ case: c.name, reasons: expected });
    }
  });

  itUnless(onlyOn, 'a private /dev/zero map is anonymous: walked, and counted to the byte', () => {
    const r = reports.get(cases[0].target)!;
    const dz = cases.find((c) => c.name === 'private /dev/zero map, advised')!;
    const v = r.vmas.find((x) => Number(x.start) <= dz.start && dz.start < Number(x.end))!;
    expect(v.path).toBe('/dev/zero');
    expect(v.account).toMatchObject({ anonymous: H, small: H - (v.account.pteMappedThp ?? 0) });
    expect(Object.keys(v.account.reasons)).not.toContain('file-backed-vma');
  });

  itUnless(onlyOn ?? (root ? undefined : 'not root: page frame numbers are hidden, PTE-mapped THP is "not visible without root"'), 'a split THP in a private /dev/zero map is counted as a THP mapped by PTEs (kpageflags)', () => {
    const r = reports.get(cases[0].target)!;
    const v = r.vmas.find((x) => Number(x.start) === dzSplit)!;
    expect(v.path).toBe('/dev/zero');
    expect(v.account).toMatchObject({ anonymous: H - P, pmdMapped: 0, pteMappedThp: H - P, small: 0 });
  });
});

describe('khugepaged does what each reason says', () => {
  itUnless(khugepagedReason, 'frames it will collapse are huge; frames it won\'t are not, after two full scans past them', () => {
    expect(interference).toEqual([]); // else another test changed khugepaged's knobs under this one
    if (!never) {
      // khugepaged scanned past every region of the control's process: the control is above them all and collapsed.
      const control = cases.find((c) => c.name === CONTROL)!;
      for (const c of cases) if (c.target === control.target && c !== control) expect(c.start).toBeLessThan(control.start);
      expect(control.hugeAfterKhugepaged).toBe(1);
    }
    const rows = cases.map((c) => ({ case: c.name, reason: c.reason, huge: c.hugeAfterKhugepaged }));
    // An unreferenced frame khugepaged may skip or not (the reason says "may"): all or nothing, never part.
    const want = cases.map((c) => ({ case: c.name, reason: c.reason, huge: c.proviso === 'unreferenced' && c.hugeAfterKhugepaged === c.frames ? c.frames : willOf(c.reason).will === 'khugepaged' && !c.proviso ? c.frames : 0 }));
    expect(rows).toEqual(want);
  });
});

describe('MADV_COLLAPSE does what each reason says', () => {
  const errno = os.constants.errno as Record<string, number>;
  itUnless(baseReason, 'it collapses every frame a reason says it will, and fails on the rest with the errno the reason names', async () => {
    const rows = [];
    const want = [];
    for (const c of cases) {
      const info = willOf(c.reason);
      const a = await c.target.cmd(`collapse ${c.start} ${c.frames * H}`);
      const held = c.proviso === 'held';
      const collapses = (info.will === 'khugepaged' || info.will === 'collapse-only') && !held;
      rows.push({ case: c.name, reason: c.reason, rc: a.rc, errno: a.rc ? a.errno : 0, huge: hugeBytes(c) / H });
      want.push({ case: c.name, reason: c.reason, rc: collapses ? 0 : -1, errno: collapses ? 0 : held ? errno.EAGAIN : info.errno ? errno[info.errno] : a.errno, huge: collapses ? c.frames : 0 });
    }
    expect(rows).toEqual(want);
  });

  itUnless(onlyOn, 'collapsing fork-shared pages copies them: the frames become this process\'s own, the child keeps its copies', () => {
    const c = cases.find((x) => x.reason === 'shared-with-other-process')!;
    const facts = readFrameFacts(c.target.pid, c.start, c.start + c.frames * H, { hugePage: H, pageSize: P })!;
    for (const f of facts) expect({ exclusive: f.exclusive, shared: f.shared }).toEqual({ exclusive: NR, shared: 0 });
    const v = readSmaps(childPid).find((x) => x.start <= c.start && c.start < x.end)!;
    expect(v.rss).toBeGreaterThanOrEqual(c.frames * H);
  });

  itUnless(onlyOn ?? (NR - NONE - 1 > 0 ? undefined : `max_ptes_none is ${NONE} and not root to lower it: no frame with present pages is too-few-present`), 'collapsing a frame with too few present pages allocates the rest: the process grows by them', () => {
    const c = cases.find((x) => x.reason === 'too-few-present')!;
    const v = readSmaps(c.target.pid).find((x) => x.start <= c.start && c.start < x.end)!;
    expect({ anonymous: v.anonymous, huge: v.anonHugePages }).toEqual({ anonymous: H, huge: H });
  });
});

describe('cases this host cannot make', () => {
  itUnless(baseReason ?? (never ? undefined : `THP is ${mode} here, not never (npm run test:hosts -- never makes it)`), 'host-thp-never was made: the 2 MiB size is off', () => {
    expect(cases.filter((c) => c.reason === 'host-thp-never').length).toBe(3);
  });
  itUnless(onlyOn ?? (swapOn ? undefined : 'no swap on this host (this test does not turn it on, a host-wide change while other tests run: npm run test:hosts -- swap does)'), 'too-many-swapped was made by MADV_PAGEOUT', () => {
    expect(cases.some((c) => c.reason === 'too-many-swapped')).toBe(true);
  });
  itUnless(baseReason ?? uffdSkip, 'userfaultfd cases were made', () => {
    expect(uffdReason).toBeUndefined();
    expect(cases.filter((c) => c.reason.startsWith('uffd-')).length).toBeGreaterThan(0);
  });
});
