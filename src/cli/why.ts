/**
 * `hugespan why --pid PID`: where a process's anonymous memory is not on huge pages, and why,
 * biggest first, with the VMAs each reason holds and what would change it.
 * Invariant: every byte printed is a field of the accounting layer's ProcessReport (the same
 * one `report` prints); the reasons sum to its small pages, in the vocabulary of REASONS.
 */
import { processReport } from '../account/report';
import { printable } from './printable';
import { readMeminfo } from '../account/proc';
import { REASONS, Reason } from '../account/reasons';
import type { OwnersJson, ProcessReport } from '../account/schema';
import type { Owner } from '../account/owners';
import { renderAccount, renderOwners } from './report-text';
import { bloat, BloatJson, DEFAULT_BLOAT_BUDGET } from '../account/bloat';
import { renderBloat } from './bloat-text';
import { EXIT, Palette, UsageError, checkPretty, foldLines, foldWidth, parseBytes, plural, formatBytes, hex, jsonText, palette, parseCommandArgs, parsePid, renderTable } from './ui';

export const usage = `usage: hugespan why --pid PID [--json [--pretty]] [--all] [--bloat [--bloat-budget SIZE]]

Where PID's anonymous memory is not on huge pages, and why: bytes by reason, biggest
first, with the VMAs that hold them and what would change it. Reasons, in the order
they are applied (the first that applies wins):

${REASONS.map((r) => `  ${r.code.padEnd(26)} ${r.meaning}`).join('\n')}

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
   * so a full pass over the host's anonymous memory (meminfo AnonPages) takes about passSeconds;
   * fullScans passes so far. null without THP.
   */
  khugepaged: { pagesToScan: number; scanSleepMs: number; fullScans: number; passSeconds: number } | null;
  /** Biggest first. */
  /** With --bloat: the zero subpages of its huge pages (as report --bloat). */
  bloat?: BloatJson;
  reasons: { reason: Reason; meaning: string; fix: string; bytes: number; vmas: { start: string; end: string; path: string; bytes: number; owner?: Owner }[] }[];
  /** Who owns the memory and what each owner can change (as report --json's `owners`). */
  owners?: OwnersJson;
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
      return { reason, meaning: info.meaning, fix: info.fix, bytes, vmas };
    });
  const k = r.thp.khugepaged;
  const anonPages = (readMeminfo().AnonPages ?? 0) / r.host.pageSize;
  const khugepaged =
    r.thp.hugePageSize && k.pages_to_scan > 0
      ? { pagesToScan: k.pages_to_scan, scanSleepMs: k.scan_sleep_millisecs ?? 10000, fullScans: k.full_scans ?? 0, passSeconds: Math.round((anonPages / k.pages_to_scan) * ((k.scan_sleep_millisecs ?? 10000) / 1000)) }
      : null;
  return { schema: r.schema, kind: 'why', pid: r.pid, comm: r.comm, account: r.totals.account, khugepaged, reasons, ...(r.owners ? { owners: r.owners } : {}) };
}

function render(w: WhyJson, options: { all: boolean; paint: Palette; fold?: number }): string {
  const { paint } = options;
  const lines = [`${paint.bold(`pid ${w.pid} (${printable(w.comm)})`)}`, renderAccount(w.account, paint, options.fold), ''];
  if (!w.reasons.length) lines.push('every anonymous byte is on a huge page (or in a THP mapped by PTEs): nothing to explain', '');
  for (const r of w.reasons) {
    lines.push(`${paint.bold(r.reason)}  ${formatBytes(r.bytes)}  ${r.meaning}`, `  fix: ${r.fix}`);
    if (r.reason === 'collapsible-waiting' && w.khugepaged) {
      const k = w.khugepaged;
      lines.push(`  khugepaged scans ${k.pagesToScan} pages every ${k.scanSleepMs} ms: a pass over this host's anonymous memory takes about ${k.passSeconds} s at that pace (${k.fullScans} full scans so far)`);
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
