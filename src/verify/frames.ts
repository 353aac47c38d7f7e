/**
 * The kernel's word on each huge page frame of a range: the VMA flags that govern it (smaps)
 * and whether its pages are present and PMD-mapped (PAGEMAP_SCAN). Invariant: one smaps read
 * and one scan per call, so every frame is judged from the same moment.
 */
import { readSmaps, vmaHolding } from '../native/smaps';
import { coverage, framesOf, frameSizeArg } from '../native/coverage';
import { argError, uintArg } from '../native/args';

/** Frames one call may judge: 2^20 frames (2 TiB of 2 MiB pages) bounds its memory and time. */
export const MAX_FRAMES = 2 ** 20;

export interface Frame {
  base: number;
  /** A VMA holds the whole frame, so a PMD could map it. */
  whole: boolean;
  hg: boolean;
  nh: boolean;
  /** The kernel may back it with a huge page (smaps THPeligible of a VMA holding all of it). */
  eligible: boolean;
  presentBytes: number;
  /** Mapped by one huge page now. */
  huge: boolean;
}

export interface FrameTruth {
  /** false: the kernel lacks PAGEMAP_SCAN; presence and `huge` then come from per-VMA smaps totals. */
  exact: boolean;
  frames: Frame[];
}

/** Frames of [start, end), both multiples of `h` (the huge page size, > 0); none when end = start. */
export function frameTruth(start: number, end: number, h: number): FrameTruth {
  frameSizeArg(h);
  for (const [name, v] of [['start', start], ['end', end]] as const) {
    if (uintArg(v, name) % h !== 0) throw argError(RangeError, 'ERR_INVALID_ARG_VALUE', `The "${name}" argument must be a multiple of h (${h}). Received ${v}`);
  }
  if (end < start) throw argError(RangeError, 'ERR_INVALID_ARG_VALUE', `The "end" argument must not be below "start". Received start ${start}, end ${end}`);
  if ((end - start) / h > MAX_FRAMES) {
    throw argError(RangeError, 'ERR_OUT_OF_RANGE', `frameTruth judges at most ${MAX_FRAMES} frames per call; [start, end) holds ${(end - start) / h}`);
  }
  if (end === start) return { exact: true, frames: [] };
  const vmas = readSmaps('self');
  const cov = coverage('self', start, end);
  const frames: Frame[] = [];
  for (const { base, presentBytes, huge } of framesOf(cov.runs, start, end, h)) {
    const vma = vmaHolding(vmas, base);
    const whole = vma !== undefined && vma.end >= base + h;
    const flags = vma?.vmFlags ?? [];
    frames.push({
      base,
      whole,
      hg: flags.includes('hg'),
      nh: flags.includes('nh'),
      eligible: whole && vma.thpEligible === true,
      presentBytes,
      huge,
    });
  }
  if (!cov.exact) approximateFromSmaps(frames, vmas, h);
  return { exact: cov.exact, frames };
}

// Without PAGEMAP_SCAN only per-VMA totals exist: mark the first anonHugePages/h frames of each
// VMA huge and its Rss present. Honest about being a guess: FrameTruth.exact is false.
function approximateFromSmaps(frames: Frame[], vmas: ReturnType<typeof readSmaps>, h: number): void {
  const budget = new Map<number, { huge: number; rss: number }>();
  for (const f of frames) {
    const vma = vmaHolding(vmas, f.base);
    if (!vma) continue;
    const b = budget.get(vma.start) ?? { huge: vma.anonHugePages, rss: vma.rss };
    f.huge = b.huge >= h;
    if (f.huge) b.huge -= h;
    f.presentBytes = Math.min(h, b.rss);
    b.rss -= f.presentBytes;
    budget.set(vma.start, b);
  }
}
