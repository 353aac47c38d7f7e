/**
 * The bloat of a process's huge pages as text: totals, by origin, then the VMAs holding the most
 * zero subpages. Invariant: every number printed is a field of BloatJson; an incomplete read
 * (the budget ran out) says so beside its totals.
 */
import type { BloatJson } from '../account/bloat';
import { Palette, formatBytes, formatPercent, hex, renderTable } from './ui';

/** VMAs listed without --all. */
const TOP = 10;

export function renderBloat(b: BloatJson, options: { all: boolean; paint: Palette }): string {
  const { paint } = options;
  const head = `${paint.bold('zero subpages in PMD-mapped THPs')} ${paint.dim(`(--bloat: read ${formatBytes(b.bytesRead)} of a ${formatBytes(b.budget)} budget in ${b.ms.toFixed(1)} ms)`)}`;
  if (!b.thps) return [head, '  no PMD-mapped THP: nothing to read', ''].join('\n');
  const partial = b.complete ? '' : paint.yellow(` · budget ran out: ${b.thps - b.thpsRead} of ${b.thps} THPs not read (--bloat-budget)`);
  const lines = [
    head,
    `  ${formatBytes(b.zeroBytes)} in ${b.zeroPages} zero 4 KiB subpages of ${b.thpsRead} THPs read: ${formatPercent(b.zeroShare)} of their memory holds nothing${partial}`,
  ];
  for (const [origin, c] of Object.entries(b.byOrigin)) lines.push(paint.dim(`  ${origin}: ${formatBytes(c.zeroBytes)} zero in ${c.thpsRead} THPs`));
  const shown = [...b.vmas].sort((x, y) => y.zeroBytes - x.zeroBytes || Number(x.start) - Number(y.start));
  const rows = (options.all ? shown : shown.slice(0, TOP)).map((v) => [`${hex(Number(v.start))}-${hex(Number(v.end))}`, String(v.thpsRead), formatBytes(v.zeroBytes), v.origin, v.path || '[anon]']);
  lines.push(renderTable([{ title: 'range' }, { title: 'THPs', align: 'right' }, { title: 'zero', align: 'right' }, { title: 'origin' }, { title: 'path' }], rows, { header: paint.bold, indent: 2 }));
  if (rows.length < shown.length) lines.push(paint.dim(`  … ${shown.length - rows.length} more VMAs (--all lists them)`));
  lines.push('');
  return lines.join('\n');
}
