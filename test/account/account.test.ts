/**
 * The accounting adds up, on real processes: every anonymous byte in exactly one bucket, the
 * buckets equal to smaps_rollup to the byte, and each reason in the vocabulary produced by a
 * region the target laid out for it, with its exact bytes. Reasons the host cannot produce
 * (THP `never` or `always`, no PAGEMAP_SCAN, not root) are skipped with the reason printed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { processReport } from '../../src/account/report';
import type { ProcessReport, VmaJson } from '../../src/account/schema';
import { readSmapsRollup } from '../../src/native/smaps';
import { hugePageSize, thpSettings } from '../../src/native/host';
import { pagemapScanSupported } from '../../src/native/coverage';
import { thpReason, itUnless } from '../support/thp';
import { ROOT } from '../support/child';

const H = hugePageSize() || 2 << 20;
const P = 4096;
const MiB = 1 << 20;
const enabled = thpSettings().enabled;
const scan = pagemapScanSupported();
const root = process.getuid?.() === 0 && fs.existsSync('/proc/kpageflags');

interface Target {
  pid: number;
  regions: Record<string, { start: number; end: number }>;
  child: ChildProcess;
}

// Each region sits inside its own mapping with an untouched margin of one huge page either
// side that carries no advice of its own, so the region is exactly one VMA.
const TARGET = `
  const { Mapping, setThpDisabledForSelf } = require(${JSON.stringify(ROOT)});
  setThpDisabledForSelf(false);
  const H = ${H}, P = ${P}, kept = [];
  const region = (length, setup) => {
    const m = new Mapping(length + 2 * H, { align: 'hugepage', commit: true });
    kept.push(m);
    setup(m, H, length);
    return { start: m.address + H, end: m.address + H + length };
  };
  const regions = {
    // 4 huge pages.
    huge: region(4 * H, (m, o, l) => { m.advise('hugepage', o, l); m.touch(o, l); }),
    // 2 huge pages' worth advised nohugepage.
    nh: region(2 * H, (m, o, l) => { m.advise('nohugepage', o, l); m.touch(o, l); }),
    // 1 MiB advised hugepage: no 2 MiB frame fits inside the VMA.
    small: region(${MiB}, (m, o, l) => { m.advise('hugepage', o, l); m.touch(o, l); }),
    // Touched while nohugepage, then advised hugepage: small pages in an eligible VMA.
    waiting: region(2 * H, (m, o, l) => { m.advise('nohugepage', o, l); m.touch(o, l); m.advise('hugepage', o, l); }),
    // One huge page, then 4 KiB of it dropped: the rest is a THP mapped by PTEs. Advised
    // nohugepage after, so khugepaged cannot collapse it back before the test reads it.
    split: region(H, (m, o, l) => { m.advise('hugepage', o, l); m.touch(o, l); m.advise('dontneed', o, P); m.advise('nohugepage', o, l); }),
  };
  console.log(JSON.stringify(regions));
  process.stdin.on('end', () => process.exit(0)).resume();
`;

function startTarget(): Promise<Target> {
  const child = spawn(process.execPath, ['-e', TARGET], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`the target exited (${code}) before reporting its layout`)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve({ pid: child.pid!, regions: JSON.parse(out), child });
    });
  });
}

function vmaOf(r: ProcessReport, region: { start: number; end: number }): VmaJson {
  const v = r.vmas.find((x) => Number(x.start) === region.start && Number(x.end) === region.end);
  if (!v) throw new Error(`no VMA is exactly the region ${region.start.toString(16)}-${region.end.toString(16)}`);
  return v;
}

function sumReasons(reasons: Record<string, number | undefined>): number {
  return Object.values(reasons).reduce((a: number, b) => a + (b ?? 0), 0);
}

let target: Target;
let report: ProcessReport;
let rollup: ReturnType<typeof readSmapsRollup>;
beforeAll(async () => {
  target = await startTarget();
  // The target is a live node process (V8 may still allocate): take a report that smaps_rollup
  // read just before and just after agree on, so "equal to the byte" compares one state.
  for (let i = 0; i < 20; i++) {
    const before = readSmapsRollup(target.pid);
    report = processReport(target.pid, { exact: true });
    rollup = readSmapsRollup(target.pid);
    if (before.anonymous === rollup.anonymous && before.anonHugePages === rollup.anonHugePages) break;
    await new Promise((r) => setTimeout(r, 50));
  }
}, 30000);
afterAll(() => {
  target?.child.kill('SIGKILL');
});

const skipped = (name: string, reason: string) => itUnless(reason, name, () => undefined);

describe('every anonymous byte in exactly one bucket', () => {
  it('per VMA: pmdMapped + pteMappedThp + small = anonymous, and the reasons sum to small', () => {
    for (const v of report.vmas) {
      const a = v.account;
      expect(a.anonymous).toBe(v.anonymous);
      expect(a.pmdMapped + (a.pteMappedThp ?? 0) + a.small).toBe(a.anonymous);
      expect(sumReasons(a.reasons)).toBe(a.small);
      for (const n of Object.values(a.reasons)) expect(n).toBeGreaterThan(0);
    }
  });

  it('in total, equal to smaps_rollup to the byte: Anonymous, AnonHugePages, ShmemPmdMapped, FilePmdMapped', () => {
    const t = report.totals.account;
    expect(t.pmdMapped + (t.pteMappedThp ?? 0) + t.small).toBe(t.anonymous);
    expect(sumReasons(t.reasons)).toBe(t.small);
    expect({ anonymous: t.anonymous, pmd: t.pmdMapped, shmem: report.totals.otherHuge.shmemPmdMapped, file: report.totals.otherHuge.filePmdMapped }).toEqual({
      anonymous: rollup.anonymous,
      pmd: rollup.anonHugePages,
      shmem: rollup.shmemPmdMapped ?? 0,
      file: rollup.filePmdMapped ?? 0,
    });
  });
});

describe('each reason, from a region laid out for it', () => {
  const blocked = thpReason; // the runner's THP state; the target clears prctl for itself
  if (enabled === 'never') {
    it('host THP never: every small byte of the target says so', () => {
      expect(Object.keys(report.totals.account.reasons)).toEqual(['host-thp-never']);
    });
    return;
  }
  void blocked;

  it('nohugepage: the whole region under vma-nohugepage', () => {
    const v = vmaOf(report, target.regions.nh);
    expect(v.account).toMatchObject({ anonymous: 2 * H, pmdMapped: 0, small: 2 * H, reasons: { 'vma-nohugepage': 2 * H } });
  });

  it('a hugepage VMA of 1 MiB: frame-outside-vma (a VMA-wide reason: no aligned 2 MiB frame fits)', () => {
    const v = vmaOf(report, target.regions.small);
    expect(v.account.reasons).toEqual({ 'frame-outside-vma': MiB });
  });

  it('the huge region: all on PMD huge pages, no reason needed', () => {
    const v = vmaOf(report, target.regions.huge);
    expect(v.account).toMatchObject({ anonymous: 4 * H, pmdMapped: 4 * H, small: 0, reasons: {} });
    expect(v.frames).toEqual([]);
  });

  if (!scan) skipped('small pages in an eligible VMA are collapsible-waiting', 'the kernel has no PAGEMAP_SCAN (Linux < 6.7): frame-level reasons are not-determined');
  else {
    it('small pages in an eligible VMA are collapsible-waiting (or already collapsed by khugepaged)', () => {
      const v = vmaOf(report, target.regions.waiting);
      // khugepaged may have reached the region since it was touched: then those frames are huge.
      expect(v.account.pmdMapped + (v.account.reasons['collapsible-waiting'] ?? 0)).toBe(2 * H);
      for (const f of v.frames) expect(f).toMatchObject({ present: H, reason: 'collapsible-waiting' });
    });
  }

  if (!root) skipped('a split huge page is a THP mapped by PTEs, seen through kpageflags', 'not root: page frame numbers are hidden, PTE-mapped THP is "not visible without root"');
  else if (!scan) skipped('a split huge page is a THP mapped by PTEs, seen through kpageflags', 'the kernel has no PAGEMAP_SCAN');
  else {
    it('a split huge page is a THP mapped by PTEs, seen through kpageflags: 511 pages of it', () => {
      const v = vmaOf(report, target.regions.split);
      expect(v.account).toMatchObject({ anonymous: H - P, pmdMapped: 0, pteMappedThp: H - P, small: 0 });
    });
  }

  it('with the host in madvise mode, an unadvised region says so; in always mode it does not', () => {
    const heap = report.vmas.filter((v) => !v.vmFlags.includes('hg') && !v.vmFlags.includes('nh') && v.path === '' && v.account.small > 0);
    expect(heap.length).toBeGreaterThan(0); // node's own malloc and V8 heap
    for (const v of heap) expect(Object.keys(v.account.reasons).includes('madvise-mode-not-advised')).toBe(enabled === 'madvise');
  });
});

describe('reasons that need another process', () => {
  it('THP disabled for the process: every small byte is process-thp-disabled', () => {
    const r = spawnSync(process.execPath, ['-e', `
      const { Mapping, setThpDisabledForSelf, processReport } = require(${JSON.stringify(ROOT)});
      setThpDisabledForSelf(true);
      const m = new Mapping(${4 * H}, { align: 'hugepage', commit: true }); m.advise('hugepage'); m.touch();
      console.log(JSON.stringify(processReport(process.pid, { exact: true }).totals.account));`], { encoding: 'utf8', timeout: 30000 });
    expect(r.stderr).toBe('');
    const a = JSON.parse(r.stdout);
    expect(a.pmdMapped).toBe(0);
    expect(Object.keys(a.reasons)).toEqual(['process-thp-disabled']); // first in order, even on a never host
  });

  const python = spawnSync('python3', ['-c', 'import mmap']).status === 0;
  if (!python) skipped('copy-on-write pages of a private file mapping are file-backed-vma', 'no python3 here to map a file (the addon maps anonymous memory only)');
  else {
    it('copy-on-write pages of a private file mapping are file-backed-vma, never eligible', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-cow-'));
      const file = path.join(dir, 'f');
      fs.writeFileSync(file, Buffer.alloc(4 * MiB));
      const child = spawn('python3', ['-c', `
import ctypes, mmap, sys
ctypes.CDLL(None).prctl(41, 0, 0, 0, 0)  # PR_SET_THP_DISABLE off: its own state, not the runner's
f = open(${JSON.stringify(file)}, 'r+b')
m = mmap.mmap(f.fileno(), ${4 * MiB}, flags=mmap.MAP_PRIVATE)
for i in range(0, ${4 * MiB}, 4096): m[i] = 1
print(hex(0), flush=True)
sys.stdin.read()`], { stdio: ['pipe', 'pipe', 'inherit'] });
      return new Promise<void>((resolve, reject) => {
        child.stdout.once('data', () => {
          try {
            const r = processReport(child.pid!, { exact: true });
            const v = r.vmas.find((x) => x.path === file);
            expect(v).toBeDefined();
            // The host's never comes first in the order where it holds.
            const reason = enabled === 'never' ? 'host-thp-never' : 'file-backed-vma';
            expect(v!.account).toMatchObject({ anonymous: 4 * MiB, pmdMapped: 0, pteMappedThp: 0, small: 4 * MiB, reasons: { [reason]: 4 * MiB } });
            resolve();
          } catch (e) {
            reject(e);
          } finally {
            child.kill('SIGKILL');
            fs.rmSync(dir, { recursive: true, force: true });
          }
        });
      });
    });
  }
});
