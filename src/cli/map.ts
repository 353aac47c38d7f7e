/**
 * `hugespan map`: a picture of a process's large anonymous VMAs, one cell per huge page frame.
 * Invariant: with PAGEMAP_SCAN each cell says what the kernel says of its frame; without it
 * only the per-VMA counts are known, so cells are placed in count order and the output says so.
 */
import { hostInfo } from '../native/host';
import { framesOf, Run } from '../native/coverage';
import type { Vma } from '../native/smaps';
import { readProcess, scan, holdsAnonymous, coverageRatio } from '../account/proc';
import { Reason, ReasonContext, frameReason, vmaReason } from '../account/reasons';
import { hostJson, thpJson } from '../account/report';
import { hostLine, thpBlocked, thpStatus } from './report-text';
import { CliError, EXIT, Palette, UsageError, formatBytes, formatPercent, hex, palette, parseBytes, parseCommandArgs, parsePid, terminalWidth } from './ui';

/** What one huge page frame of a VMA holds. */
type Cell = 'huge' | 'small' | 'empty' | 'nh';

const CELLS: readonly Cell[] = ['huge', 'small', 'empty', 'nh'];
const MEANING: Record<Cell, string> = {
  huge: 'on a huge page',
  small: 'present on small pages only',
  empty: 'nothing present',
  nh: 'advised nohugepage (nh)',
};
const ASCII: Record<Cell, string> = { huge: 'H', small: 'p', empty: '.', nh: 'n' };
const UNICODE: Record<Cell, string> = { huge: '█', small: '▒', empty: '·', nh: 'x' };
/** Cells start this far in, under their VMA's line. */
const INDENT = 2;

/** Rows of cells a VMA may take; a larger VMA gets cells that stand for several frames each. */
const MAX_ROWS = 8;

/** The state of every huge page frame overlapping [v.start, v.end), from PAGEMAP_SCAN's runs. */
function* frameStates(v: Vma, runs: readonly Run[], hugePage: number): Generator<Cell> {
  const nh = v.vmFlags.includes('nh');
  for (const f of framesOf(runs, v.start, v.end, hugePage)) yield nh ? 'nh' : f.huge ? 'huge' : f.presentBytes > 0 ? 'small' : 'empty';
}

/** Without PAGEMAP_SCAN: smaps' counts as states — huge frames first, then small, then empty. */
function* countedStates(v: Vma, frames: number, hugePage: number): Generator<Cell> {
  const nh = v.vmFlags.includes('nh');
  const huge = nh ? 0 : Math.min(frames, Math.round(v.anonHugePages / hugePage));
  const small = nh ? 0 : Math.min(frames - huge, Math.ceil(Math.max(0, v.rss - v.anonHugePages) / hugePage));
  for (let k = 0; k < frames; k++) yield nh ? 'nh' : k < huge ? 'huge' : k < huge + small ? 'small' : 'empty';
}

/**
 * Frames into at most `maxCells` cells, `per` frames each (1 when they fit): a cell shows the
 * state most of its frames are in (ties go to huge, small, empty, nh: the CELLS order), so a terabyte
 * reservation still draws in a few lines.
 */
function toCells(states: Iterable<Cell>, frames: number, maxCells: number): { cells: Cell[]; per: number; hugeFrames: number } {
  const per = Math.max(1, Math.ceil(frames / maxCells));
  const cells: Cell[] = [];
  const count: Record<Cell, number> = { huge: 0, small: 0, nh: 0, empty: 0 };
  let inCell = 0;
  let hugeFrames = 0;
  const flush = () => {
    cells.push(CELLS.reduce((best, c) => (count[c] > count[best] ? c : best), CELLS[0]));
    for (const c of CELLS) count[c] = 0;
    inCell = 0;
  };
  for (const s of states) {
    count[s]++;
    if (s === 'huge') hugeFrames++;
    if (++inCell === per) flush();
  }
  if (inCell) flush();
  return { cells, per, hugeFrames };
}

export const usage = `usage: hugespan map --pid PID [--min-size BYTES]

A picture of a process's large anonymous VMAs: one cell per huge page frame,
on a huge page / present on small pages only / empty / advised nohugepage.

  --pid PID          the process to draw
  --min-size BYTES   draw VMAs at least this large (default 4M; accepts 4M, 2MiB, 1G, 65536)`;

export async function run(argv: string[]): Promise<number> {
  const v = parseCommandArgs(argv, { pid: { type: 'string' }, 'min-size': { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (v.help) {
    process.stdout.write(`${usage}\n`);
    return EXIT.ok;
  }
  if (v.pid === undefined) throw new UsageError('map needs --pid PID');
  const pid = parsePid(v.pid);
  const minSize = v['min-size'] === undefined ? 4 << 20 : parseBytes(v['min-size'], '--min-size');
  process.stdout.write(drawMap(pid, minSize, palette(), process.stdout.isTTY === true));
  return EXIT.ok;
}

function drawMap(pid: number, minSize: number, paint: Palette, tty: boolean): string {
  const info = hostInfo();
  const thp = thpJson(info);
  const hugePage = info.hugePageSize;
  if (!hugePage) throw new CliError('this kernel has no transparent huge pages: there are no huge page frames to draw');
  // The addon hands over only anonymous VMAs of --min-size or more: nothing is built for the rest.
  const p = readProcess(pid, false, { minAnonymous: 1, minSize });
  const glyphs = tty ? UNICODE : ASCII;
  const colour: Record<Cell, (s: string) => string> = { huge: paint.green, small: paint.yellow, empty: paint.dim, nh: paint.red };
  const glyph = (c: Cell): string => colour[c](glyphs[c]);
  const exact = info.pagemapScan;
  const blocked = thpBlocked(thp, p.thpDisabled ?? null);
  const perRow = Math.max(8, terminalWidth() - INDENT);
  const ctx: ReasonContext = {
    thpDisabled: p.thpDisabled,
    enabled: info.thp.enabled,
    hugePage,
    pageSize: info.pageSize,
    maxPtesNone: info.thp.khugepaged.max_ptes_none ?? 511,
    maxPtesSwap: info.thp.khugepaged.max_ptes_swap ?? 64,
  };

  const lines = [
    `${paint.bold(`pid ${pid} (${p.comm})`)}`,
    hostLine(hostJson(info), thp),
    `THP ${thpStatus(thp, p.thpDisabled ?? null)}`,
    exact ? 'cells from PAGEMAP_SCAN: exact to the page' : 'cells from smaps counts: approximate (no PAGEMAP_SCAN on this kernel, Linux < 6.7: where in the VMA is unknown)',
    `one cell = ${formatBytes(hugePage)}:  ${CELLS.map((c) => `${glyph(c)} ${MEANING[c]}`).join('   ')}`,
  ];
  // Only anonymous mappings (no file): in a file mapping present pages are mostly page cache.
  const vmas = p.vmas.filter((vma) => vma.inode === 0 && holdsAnonymous(vma) && vma.size >= minSize);
  if (!vmas.length) lines.push('', `no anonymous VMA of ${formatBytes(minSize)} or more (--min-size lowers the bar)`);
  for (const vma of vmas) {
    const c = exact ? scan(pid, vma.start, vma.end, [vma]) : undefined;
    const frames = Math.ceil(vma.end / hugePage) - Math.floor(vma.start / hugePage);
    const states = c ? frameStates(vma, c.runs, hugePage) : countedStates(vma, frames, hugePage);
    const { cells, per, hugeFrames } = toCells(states, frames, perRow * MAX_ROWS);
    const huge = c ? c.hugeBytes : vma.anonHugePages;
    const flags = [vma.vmFlags.includes('hg') && 'hg', vma.vmFlags.includes('nh') && 'nh'].filter(Boolean).join(' ');
    const coverage = blocked ? 'coverage -' : `coverage ${formatPercent(coverageRatio(huge, vma.anonymous))}`;
    const scale = per > 1 ? `, one cell = ${per} frames (${formatBytes(per * hugePage)}), by majority` : '';
    lines.push(
      '',
      `${paint.bold(`${hex(vma.start)}-${hex(vma.end)}`)}  ${formatBytes(vma.size)}  ${vma.path || '[anon]'}${flags ? `  ${flags}` : ''}  ${coverage}  ${paint.dim(`${hugeFrames}/${frames} frames huge${scale}`)}`,
    );
    for (let i = 0; i < cells.length; i += perRow) lines.push(' '.repeat(INDENT) + cells.slice(i, i + perRow).map(glyph).join(''));
    if (c) {
      // Why the small frames are small: the accounting's own vocabulary, frame by frame.
      const why = new Map<Reason, number>();
      const whole = vmaReason(vma, ctx);
      for (const f of framesOf(c.runs, vma.start, vma.end, hugePage)) {
        if (f.huge || f.presentBytes === 0) continue;
        const r = whole ?? frameReason(vma, f.base, f.presentBytes, ctx);
        why.set(r, (why.get(r) ?? 0) + 1);
      }
      if (why.size) lines.push(' '.repeat(INDENT) + paint.dim(`small frames: ${[...why].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${n} ${r}`).join(', ')}`));
    }
  }
  return `${lines.join('\n')}\n`;
}
