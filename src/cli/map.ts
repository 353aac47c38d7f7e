/**
 * `hugespan map`: a picture of a process's large anonymous VMAs, one cell per huge page frame.
 * Invariant: with PAGEMAP_SCAN each cell says what the kernel says of its frame; without it
 * only the per-VMA counts are known, so cells are placed in count order and the output says so.
 * A small cell's reason is the accounting's (vmaReason/frameReason), never one of map's own;
 * it shows as colour only, so piped output is the same plain ASCII whatever the reasons.
 */
import { hostInfo } from '../native/host';
import { printable } from './printable';
import { framesOf, Run } from '../native/coverage';
import type { Vma } from '../native/smaps';
import { readProcess, scan, holdsAnonymous, coverageRatio } from '../account/proc';
import { REASONS, Reason, ReasonContext, frameReason, frameReasonUnder, isAnonVma, reasonContext, uffdArmed, vmaReason } from '../account/reasons';
import { frameFactsFor, hostJson, thpJson } from '../account/report';
import { hostLine, thpBlocked, thpStatus } from './report-text';
import { CliError, EXIT, Palette, UsageError, formatBytes, formatPercent, hex, palette, parseBytes, parseCommandArgs, parsePid, terminalWidth } from './ui';

/** What one huge page frame of a VMA holds. */
type Cell = 'huge' | 'small' | 'empty' | 'nh';

/**
 * One frame: its cell, and — when it holds present bytes that are not on a huge page — the
 * accounting's reason why (nh frames included, so the per-VMA count covers them too).
 */
interface FrameState {
  cell: Cell;
  reason?: Reason;
}

const CELLS: readonly Cell[] = ['huge', 'small', 'empty', 'nh'];
const MEANING: Record<Cell, string> = {
  huge: 'on a huge page',
  small: 'present on small pages only',
  empty: 'nothing present',
  nh: 'advised nohugepage (nh)',
};
const ASCII: Record<Cell, string> = { huge: 'H', small: 'p', empty: '.', nh: 'n' };
const UNICODE: Record<Cell, string> = { huge: '█', small: '▒', empty: '·', nh: 'x' };

/**
 * The colour of a small cell by its reason: fixed per code, so a colour means the same reason on
 * every run and every VMA. A Record over Reason, so a new reason cannot go uncoloured; none is
 * green (huge cells) or dim (empty ones), and vma-nohugepage shares nh cells' red.
 */
export const REASON_COLOUR: Record<Reason, number> = {
  'process-thp-disabled': 95,
  'host-thp-never': 91,
  'file-backed-vma': 94,
  'vma-nohugepage': 31,
  'madvise-mode-not-advised': 35,
  'thp-disabled-except-advised': 97,
  'frame-outside-vma': 36,
  'kernel-ineligible': 96,
  'uffd-wp-protected': 90,
  'uffd-armed-holes': 30,
  'too-many-swapped': 93,
  'shared-with-other-process': 92,
  'too-few-present': 33,
  'collapsible-waiting': 34,
  'not-determined': 37,
};
/** Cells start this far in, under their VMA's line. */
const INDENT = 2;

/** Rows of cells a VMA may take; a larger VMA gets cells that stand for several frames each. */
const MAX_ROWS = 8;

/** Reasons in the vocabulary's order: ties between reasons go to the earlier one, as in REASONS. */
const ORDER = REASONS.map((x) => x.code);

/**
 * The state of every huge page frame overlapping [v.start, v.end), from PAGEMAP_SCAN's runs;
 * a frame's reason is the accounting's own (vmaReason, else frameReason), as in `hugespan why`.
 */
function* frameStates(pid: number, v: Vma, runs: readonly Run[], hugePage: number, ctx: ReasonContext): Generator<FrameState> {
  const nh = v.vmFlags.includes('nh');
  const whole = vmaReason(v, ctx);
  // The frame's PTEs from pagemap, as the accounting reads them (report.ts), where no VMA-wide reason holds.
  const facts = (base: number) => frameFactsFor(pid, v, base, ctx);
  for (const f of framesOf(runs, v.start, v.end, hugePage)) {
    const reason = f.huge || f.presentBytes === 0 ? undefined : whole ? frameReasonUnder(whole, v, ctx, uffdArmed(v) ? facts(f.base) : undefined) : frameReason(v, f.base, f.presentBytes, ctx, facts(f.base));
    yield { cell: nh ? 'nh' : f.huge ? 'huge' : f.presentBytes > 0 ? 'small' : 'empty', reason };
  }
}

/**
 * Without PAGEMAP_SCAN: smaps' counts as states — huge frames first, then small, then empty.
 * Only a VMA-wide reason is known; a frame-level one would be a guess, so it is not-determined.
 */
function* countedStates(v: Vma, frames: number, hugePage: number, ctx: ReasonContext): Generator<FrameState> {
  const nh = v.vmFlags.includes('nh');
  const huge = nh ? 0 : Math.min(frames, Math.round(v.anonHugePages / hugePage));
  const small = nh ? 0 : Math.min(frames - huge, Math.ceil(Math.max(0, v.rss - v.anonHugePages) / hugePage));
  const reason = vmaReason(v, ctx) ?? 'not-determined';
  for (let k = 0; k < frames; k++) yield nh ? { cell: 'nh' } : k < huge ? { cell: 'huge' } : k < huge + small ? { cell: 'small', reason } : { cell: 'empty' };
}

/** What a run of cells holds: each cell, and for a small one the reason it is drawn in. */
interface Drawn {
  cell: Cell;
  reason?: Reason;
}

/**
 * Frames into at most `maxCells` cells, `per` frames each (1 when they fit): a cell shows the
 * state most of its frames are in (ties go to huge, small, empty, nh: the CELLS order), so a terabyte
 * reservation still draws in a few lines; a small cell takes the reason most of its small
 * frames have (ties: the REASONS order). `why` counts every frame's reason, not the cells'.
 */
function toCells(states: Iterable<FrameState>, frames: number, maxCells: number): { cells: Drawn[]; per: number; hugeFrames: number; why: Map<Reason, number> } {
  const per = Math.max(1, Math.ceil(frames / maxCells));
  const cells: Drawn[] = [];
  const count: Record<Cell, number> = { huge: 0, small: 0, nh: 0, empty: 0 };
  const reasons = new Map<Reason, number>();
  const why = new Map<Reason, number>();
  let inCell = 0;
  let hugeFrames = 0;
  const flush = () => {
    const cell = CELLS.reduce((best, c) => (count[c] > count[best] ? c : best), CELLS[0]);
    const reason = cell === 'small' ? ORDER.reduce<Reason | undefined>((best, r) => ((reasons.get(r) ?? 0) > (best ? reasons.get(best)! : 0) ? r : best), undefined) : undefined;
    cells.push({ cell, reason });
    for (const c of CELLS) count[c] = 0;
    reasons.clear();
    inCell = 0;
  };
  for (const s of states) {
    count[s.cell]++;
    if (s.cell === 'huge') hugeFrames++;
    if (s.reason) {
      why.set(s.reason, (why.get(s.reason) ?? 0) + 1);
      if (s.cell === 'small') reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
    }
    if (++inCell === per) flush();
  }
  if (inCell) flush();
  return { cells, per, hugeFrames, why };
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
  // Small cells get their reason's colour (below), so the legend's small glyph stays uncoloured.
  const colour: Record<Cell, (s: string) => string> = { huge: paint.green, small: (s) => s, empty: paint.dim, nh: paint.red };
  const glyph = (c: Cell): string => colour[c](glyphs[c]);
  // Where colour is on, a small cell is painted in its reason's colour; piped, it stays a plain 'p'.
  const drawn = (d: Drawn): string => (d.cell === 'small' && d.reason ? paint.fg(REASON_COLOUR[d.reason])(glyphs.small) : glyph(d.cell));
  /** The reasons some small cell was painted in: the legend lists only these. */
  const painted = new Set<Reason>();
  const exact = info.pagemapScan;
  const blocked = thpBlocked(thp, p.thpDisabled ?? null);
  const perRow = Math.max(8, terminalWidth() - INDENT);
  const ctx: ReasonContext = reasonContext(info, p.thpDisabled);

  const lines = [
    `${paint.bold(`pid ${pid} (${printable(p.comm)})`)}`,
    hostLine(hostJson(info), thp),
    `THP ${thpStatus(thp, p.thpDisabled ?? null)}`,
    exact ? 'cells from PAGEMAP_SCAN: exact to the page' : 'cells from smaps counts: approximate (no PAGEMAP_SCAN on this kernel, Linux < 6.7: where in the VMA is unknown)',
    `one cell = ${formatBytes(hugePage)}:  ${CELLS.map((c) => `${glyph(c)} ${MEANING[c]}`).join('   ')}`,
  ];
  const legendAt = lines.length - 1;
  // Only anonymous mappings (no file): in a file mapping present pages are mostly page cache.
  const vmas = p.vmas.filter((vma) => isAnonVma(vma) && holdsAnonymous(vma) && vma.size >= minSize);
  if (!vmas.length) lines.push('', `no anonymous VMA of ${formatBytes(minSize)} or more (--min-size lowers the bar)`);
  for (const vma of vmas) {
    const c = exact ? scan(pid, vma.start, vma.end, [vma]) : undefined;
    const frames = Math.ceil(vma.end / hugePage) - Math.floor(vma.start / hugePage);
    const states = c ? frameStates(pid, vma, c.runs, hugePage, ctx) : countedStates(vma, frames, hugePage, ctx);
    const { cells, per, hugeFrames, why } = toCells(states, frames, perRow * MAX_ROWS);
    for (const d of cells) if (d.cell === 'small' && d.reason) painted.add(d.reason);
    const huge = c ? c.hugeBytes : vma.anonHugePages;
    const flags = [vma.vmFlags.includes('hg') && 'hg', vma.vmFlags.includes('nh') && 'nh'].filter(Boolean).join(' ');
    const coverage = blocked ? 'coverage -' : `coverage ${formatPercent(coverageRatio(huge, vma.anonymous))}`;
    const scale = per > 1 ? `, one cell = ${per} frames (${formatBytes(per * hugePage)}), by majority` : '';
    lines.push(
      '',
      `${paint.bold(`${hex(vma.start)}-${hex(vma.end)}`)}  ${formatBytes(vma.size)}  ${vma.path ? printable(vma.path) : '[anon]'}${flags ? `  ${flags}` : ''}  ${coverage}  ${paint.dim(`${hugeFrames}/${frames} frames huge${scale}`)}`,
    );
    for (let i = 0; i < cells.length; i += perRow) lines.push(' '.repeat(INDENT) + cells.slice(i, i + perRow).map(drawn).join(''));
    // Why the small frames are small, frame by frame (only exact with PAGEMAP_SCAN: smaps counts cannot say).
    if (c && why.size) lines.push(' '.repeat(INDENT) + paint.dim(`small frames: ${[...why].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${n} ${r}`).join(', ')}`));
  }
  // The reason legend goes under the cell legend, once every VMA is drawn: only the reasons
  // some cell shows, in the vocabulary's order. Without colour every small cell is the same 'p',
  // so a legend of colours would describe nothing.
  if (paint.enabled && painted.size) {
    const legend = ORDER.filter((r) => painted.has(r)).map((r) => `${paint.fg(REASON_COLOUR[r])(glyphs.small)} ${r}`);
    lines.splice(legendAt + 1, 0, `small cells by reason:  ${legend.join('   ')}`);
  }
  return `${lines.join('\n')}\n`;
}
