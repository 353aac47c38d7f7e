/**
 * `hugespan why --pid PID`: where a process's anonymous memory is not on huge pages, and why,
 * biggest first, with the VMAs each reason holds and what would change it.
 * Invariant: every byte printed is a field of the accounting layer's ProcessReport (the same
 * one `report` prints); the reasons sum to its small pages, in the vocabulary of REASONS.
 */
import { processReport } from '../account/report';
import { printable } from './printable';
import { readProcess } from '../account/proc';
import { REASONS, Reason, reasonContext, vmaReason } from '../account/reasons';
import type { OwnersJson, ProcessReport } from '../account/schema';
import type { Owner } from '../account/owners';
import { renderAccount, renderOwners } from './report-text';
import { bloat, BloatJson, DEFAULT_BLOAT_BUDGET } from '../account/bloat';
import { renderBloat } from './bloat-text';
import { EXIT, Palette, UsageError, checkPretty, foldLines, foldWidth, parseBytes, plural, formatBytes, hex, jsonText, palette, parseCommandArgs, parsePid, renderTable } from './ui';

/** The prediction's short name, as `why` prints it. */
const WILL = { khugepaged: 'khugepaged', 'collapse-only': 'collapse only', nothing: 'nothing', unknown: '?' } as const;

export const usage = `usage: hugespan why --pid PID [--json [--pretty]] [--all] [--bloat [--bloat-budget SIZE]]

Where PID's anonymous memory is not on huge pages, and why: bytes by reason, biggest
first, with the VMAs that hold them and what would change it. Each reason predicts what
the kernel will do: [khugepaged] khugepaged will collapse it when its scan gets there;
[collapse only] khugepaged won't, 'hugespan collapse' (MADV_COLLAPSE) will; [nothing]
neither will (with the errno MADV_COLLAPSE fails with). In the order they are applied
(the first that applies wins):

${REASONS.map((r) => `  ${r.code}  [${WILL[r.will]}${r.errno ? `: ${r.errno}` : ''}]\n      ${r.meaning}\n      fix: ${r.fix}`).join('\n')}

  --pid PID   the process to explain (decimal, below pid_max)
  --json      the reasons as JSON (schema as 'report --json': totals.account, vmas[].frames)
  --pretty    indented JSON; the default only on a terminal (piped: one compact line)
  --all       list every VMA under each reason (default: the 5 largest)
  --bloat     the other side: the 4 KiB subpages of its PMD-mapped THPs that hold only
              zeros, read (process_vm_readv, read-only) up to --bloat-budget (default 1G)`;

export interface WhyJson {
  schema: ProcessReport['schema'];
  kind: 'why';
  pid: number;
  comm: string;
  account: ProcessReport['totals']['account'];
  /**
   * khugepaged's pace, for `collapsible-waiting`: it scans pagesToScan pages every scanSleepMs,
   * counting every 2 MiB frame of the eligible VMAs of each mm it tracks as 512, empty and huge
   * ones included. eligibleBytes: this process's eligible frames; passSeconds: how long a pass
   * over them alone takes at that pace — a lower bound on khugepaged's full pass (the other
   * processes it tracks add theirs, which this does not read). fullScans: passes so far.
   * null without THP.
   */
  khugepaged: { pagesToScan: number; scanSleepMs: number; fullScans: number; eligibleBytes: number; passSeconds: number } | null;
  /** With --bloat: the zero subpages of its huge pages (as report --bloat). */
  bloat?: BloatJson;
  /** Biggest first; `will`: who will put it on huge pages (see REASONS). */
  reasons: { reason: Reason; meaning: string; will: string; fix: string; bytes: number; vmas: { start: string; end: string; path: string; bytes: number; owner?: Owner }[] }[];
  /** Who owns the memory and what each owner can change (as report --json's `owners`). */
  owners?: OwnersJson;
}

/**
 * The pages khugepaged's scan counts for this process: every whole 2 MiB frame of each VMA it
 * scans (khugepaged_scan_mm_slot: progress += HPAGE_PMD_NR per frame, empty or huge), i.e. each
 * anonymous VMA no VMA-wide reason shuts and the kernel calls eligible. Reads every VMA, not
 * only those holding memory: an empty reservation costs khugepaged its scan all the same.
 */
function eligiblePages(r: ProcessReport): number {
  const h = r.thp.hugePageSize;
  const ctx = reasonContext({ hugePageSize: h, pageSize: r.host.pageSize, thp: { enabled: r.thp.enabled ?? undefined, khugepaged: r.thp.khugepaged, sizes: r.thp.sizes } }, r.thpDisabled ?? undefined);
  let pages = 0;
  for (const v of readProcess(r.pid, true).vmas) {
    if (vmaReason(v, ctx) !== undefined || v.thpEligible === false) continue;
    const span = Math.floor(v.end / h) * h - Math.ceil(v.start / h) * h;
    if (span > 0) pages += span / r.host.pageSize;
  }
  return pages;
}

export function why(r: ProcessReport): WhyJson {
  const reasons = (Object.entries(r.totals.account.reasons) as [Reason, number][])
    .sort((a, b) => b[1] - a[1])
    .map(([reason, bytes]) => {
      const info = REASONS.find((x) => x.code === reason)!;
      const vmas = r.vmas
        .filter((v) => (v.account.reasons[reason] ?? 0) > 0)
        .map((v) => ({ start: v.start, end: v.end, path: v.path, bytes: v.account.reasons[reason]!, ...(v.owner ? { owner: v.owner.owner } : {}) }))
        .sort((a, b) => b.bytes - a.bytes);
      return { reason, meaning: info.meaning, will: WILL[info.will], fix: info.fix, bytes, vmas };
    });
  const k = r.thp.khugepaged;
  let khugepaged: WhyJson['khugepaged'] = null;
  if (r.thp.hugePageSize && k.pages_to_scan > 0) {
    const pages = eligiblePages(r);
    const sleep = k.scan_sleep_millisecs ?? 10000;
    khugepaged = { pagesToScan: k.pages_to_scan, scanSleepMs: sleep, fullScans: k.full_scans ?? 0, eligibleBytes: pages * r.host.pageSize, passSeconds: Math.round(Math.ceil(pages / k.pages_to_scan) * (sleep / 1000)) };
  }
  return { schema: r.schema, kind: 'why', pid: r.pid, comm: r.comm, account: r.totals.account, khugepaged, reasons, ...(r.owners ? { owners: r.owners } : {}) };
}

function render(w: WhyJson, options: { all: boolean; paint: Palette; fold?: number }): string {
  const { paint } = options;
  const lines = [`${paint.bold(`pid ${w.pid} (${printable(w.comm)})`)}`, renderAccount(w.account, paint, options.fold), ''];
  if (!w.reasons.length) lines.push('every anonymous byte is on a huge page (or in a THP mapped by PTEs): nothing to explain', '');
  for (const r of w.reasons) {
    lines.push(`${paint.bold(r.reason)}  ${formatBytes(r.bytes)}  [${r.will}]  ${r.meaning}`, `  fix: ${r.fix}`);
    if (r.reason === 'collapsible-waiting' && w.khugepaged) {
      const k = w.khugepaged;
      lines.push(
        `  khugepaged scans ${k.pagesToScan} pages every ${k.scanSleepMs} ms; this process's eligible ranges (${formatBytes(k.eligibleBytes)}, empty and huge frames included) alone take ${k.passSeconds} s at that pace: a full pass over every process it tracks takes at least that (${k.fullScans} full scans so far)`,
      );
    }
    const shown = options.all ? r.vmas : r.vmas.slice(0, 5);
    lines.push(
      renderTable(
        [{ title: 'range' }, { title: 'bytes', align: 'right' }, ...(w.owners ? [{ title: 'owner' }] : []), { title: 'path' }],
        shown.map((v) => [`${hex(Number(v.start))}-${hex(Number(v.end))}`, formatBytes(v.bytes), ...(w.owners ? [v.owner ?? 'unknown'] : []), v.path ? printable(v.path) : '[anon]']),
        { header: false, indent: 2, width: options.fold },
      ),
    );
    if (r.vmas.length > shown.length) lines.push(paint.dim(`  … ${plural(r.vmas.length - shown.length, 'more VMA')} (--all lists them)`));
    lines.push('');
  }
  if (w.owners) lines.push(renderOwners(w.owners, paint, options.fold), '');
  if (w.bloat) lines.push(renderBloat(w.bloat, options));
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const v = parseCommandArgs(argv, { pid: { type: 'string' }, json: { type: 'boolean' }, pretty: { type: 'boolean' }, all: { type: 'boolean' }, bloat: { type: 'boolean' }, 'bloat-budget': { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (v.help) {
    process.stdout.write(`${usage}\n`);
    return EXIT.ok;
  }
  if (v.pid === undefined) throw new UsageError('why needs --pid PID');
  checkPretty(v.pretty, v.json);
  const pid = parsePid(v.pid);
  if (v['bloat-budget'] !== undefined && !v.bloat) throw new UsageError('--bloat-budget only means something with --bloat');
  const budget = v['bloat-budget'] === undefined ? DEFAULT_BLOAT_BUDGET : parseBytes(v['bloat-budget'], '--bloat-budget');
  const r = processReport(pid, { exact: true });
  const w = why(r);
  if (v.bloat) w.bloat = bloat(pid, r.vmas, r.thp.hugePageSize, budget);
  process.stdout.write(v.json ? jsonText(w, v.pretty) : foldLines(render(w, { all: v.all ?? false, paint: palette(), fold: foldWidth() }), foldWidth()));
  return EXIT.ok;
}
