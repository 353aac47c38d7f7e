/**
 * Reports as text for people: a header (host settings, the process's THP status, the method),
 * the totals, then a table. Invariant: every number printed is a field of the report value;
 * nothing is measured here, and a coverage THP could not have is never shown as a finding.
 */
import * as fs from 'node:fs';
import type { AccountJson, CgroupReport, HostJson, OwnersJson, ThpJson, ProcessReport, SystemReport, VmaJson } from '../account/schema';
import { printable } from './printable';
import { REASONS, Reason, predictionOf } from '../account/reasons';
import { kindBytes } from '../account/thp-sizes';
import type { ThpBySize } from '../account/thp-sizes';
import { Palette, formatBytes, formatPercent, hex, plural, renderTable, wrapItems } from './ui';

/** VMAs the process table lists without --all. */
const TOP_VMAS = 20;
/** Processes a cgroup's table lists without --all: as many as the host view's. */
const TOP_PROCESSES = 10;
/** Width of the header labels ("host", "THP", "method" …). */
const LABEL = 8;
/**
 * vmstat counters worth a glance; JSON carries all of them. The splits are the cost side: PMD
 * splits, THPs queued for a deferred split (partly unmapped), and (Linux 6.12+) THPs the
 * underused-THP shrinker split because most of their subpages held only zeros.
 */
const KEY_COUNTERS = ['thp_fault_alloc', 'thp_fault_fallback', 'thp_collapse_alloc', 'thp_collapse_alloc_failed', 'thp_split_page', 'thp_split_pmd', 'thp_deferred_split_page', 'thp_underused_split_page'];

function labelled(label: string, text: string, paint: Palette): string {
  return `${paint.bold(label.padEnd(LABEL))}  ${text}`;
}

function when(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

export function hostLine(host: HostJson, thp: ThpJson): string {
  const kernel = `Linux ${host.kernel} ${host.arch}`;
  if (!thp.hugePageSize) return `${kernel} · no transparent huge pages in this kernel`;
  const ptes = thp.maxPtesNone === null ? '' : ` · khugepaged max_ptes_none=${thp.maxPtesNone}`;
  return `${kernel} · THP enabled=${thp.enabled ?? '?'} defrag=${thp.defrag ?? '?'} · huge page ${formatBytes(thp.hugePageSize)}${ptes}`;
}

/** Why no memory of the process can be on huge pages, or undefined when some can. */
export function thpBlocked(thp: ThpJson, thpDisabled: boolean | null): string | undefined {
  if (!thp.hugePageSize) return 'this kernel has no transparent huge pages';
  if (thp.enabled === 'never') return 'THP is off host-wide (enabled=never)';
  if (thpDisabled) return 'THP disabled for this process (prctl PR_SET_THP_DISABLE)';
  return undefined;
}

export function thpStatus(thp: ThpJson, thpDisabled: boolean | null): string {
  const blocked = thpBlocked(thp, thpDisabled);
  if (blocked) return `${blocked}: none of its memory can be on huge pages`;
  const scope = thp.enabled === 'madvise' ? ' where it advised hugepage (enabled=madvise)' : '';
  return thpDisabled === null ? `allowed${scope}; the kernel does not report a per-process switch` : `allowed for this process${scope}`;
}

function methodText(method: ProcessReport['method'], host: HostJson): string {
  if (method === 'pagemap_scan') return 'PAGEMAP_SCAN: huge bytes exact to the page';
  return `smaps AnonHugePages per VMA${host.pagemapScan ? ' (--no-exact)' : ' (no PAGEMAP_SCAN on this kernel: Linux < 6.7)'}`;
}

function paintCoverage(ratio: number, paint: Palette): (s: string) => string {
  return ratio >= 0.9 ? paint.green : ratio >= 0.5 ? paint.yellow : paint.red;
}

function flags(v: VmaJson): string {
  const f = [v.vmFlags.includes('hg') && 'hg', v.vmFlags.includes('nh') && 'nh', v.thpEligible && 'eligible'].filter(Boolean);
  return f.length ? f.join(' ') : '-';
}

/** When nothing could be huge because nothing is eligible, say so beside the 0%. */
function whyNone(r: ProcessReport): string {
  if (r.totals.anonHugePages > 0 || r.totals.eligibleNotHuge > 0 || r.totals.anonymous === 0) return '';
  return r.thp.enabled === 'madvise' ? ': none of it is advised hugepage, and enabled=madvise backs only that' : ': none of it is in a THP-eligible VMA';
}

export function renderProcessTable(r: ProcessReport, options: { all: boolean; paint: Palette; fold?: number }): string {
  const { paint } = options;
  const t = r.totals;
  const blocked = thpBlocked(r.thp, r.thpDisabled);
  const coverage = blocked ? `coverage -: ${blocked}, not a measurement` : `coverage ${paintCoverage(t.coverage, paint)(formatPercent(t.coverage))}${whyNone(r)}`;
  const totals = renderTable(
    [{ title: '' }, { title: '', align: 'right' }, { title: '' }],
    [
      ['anonymous', formatBytes(t.anonymous), `rss ${formatBytes(t.rss)}`],
      ['on huge pages', formatBytes(t.anonHugePages), coverage],
    ],
    { header: false, width: options.fold },
  );
  const account = renderAccount(t.account, paint, options.fold, t.thpBySize);
  const other = otherHugeLine(r);

  const bySize = [...r.vmas].sort((a, b) => b.size - a.size || Number(a.start) - Number(b.start));
  const shown = options.all ? bySize : bySize.slice(0, TOP_VMAS);
  const rows = shown.map((v) => {
    const relevant = !blocked && (v.thpEligible || v.vmFlags.includes('hg'));
    const cov = formatPercent(v.coverage);
    return [
      `${hex(Number(v.start))}-${hex(Number(v.end))}`,
      formatBytes(v.size),
      formatBytes(v.anonymous),
      formatBytes(v.anonHugePages),
      relevant ? paintCoverage(v.coverage, paint)(cov) : paint.dim(cov),
      v.vmFlags.includes('nh') ? paint.yellow(flags(v)) : flags(v),
      ...(r.owners ? [v.owner?.owner ?? 'unknown'] : []),
      v.path ? printable(v.path) : '[anon]',
    ];
  });
  const table = renderTable(
    [{ title: 'range' }, { title: 'size', align: 'right' }, { title: 'anon', align: 'right' }, { title: 'huge', align: 'right' }, { title: 'coverage', align: 'right' }, { title: 'flags' }, ...(r.owners ? [{ title: 'owner' }] : []), { title: 'path' }],
    rows,
    { header: paint.bold, width: options.fold },
  );
  const rest = bySize.slice(shown.length);
  const more = rest.length
    ? [paint.dim(`… ${plural(rest.length, "smaller VMA")} holding ${formatBytes(rest.reduce((n, v) => n + v.anonymous, 0))} anonymous (--all lists them)`)]
    : [];

  return [
    `${paint.bold(`pid ${r.pid} (${printable(r.comm)})`)}  ${paint.dim(when(r.time))}`,
    labelled('host', hostLine(r.host, r.thp), paint),
    labelled('THP', blocked ? paint.yellow(thpStatus(r.thp, r.thpDisabled)) : thpStatus(r.thp, r.thpDisabled), paint),
    labelled('method', methodText(r.method, r.host), paint),
    '',
    totals,
    '',
    `${paint.bold('where every anonymous byte is')} ${paint.dim('(bytes; each line sums into the one above)')}`,
    account,
    ...other,
    '',
    ...(r.owners ? [renderOwners(r.owners, paint, options.fold), ''] : []),
    `${paint.bold(`VMAs holding anonymous memory, by size`)} ${paint.dim(`(${r.vmas.length})`)}`,
    table,
    ...more,
    '',
  ].join('\n');
}

/**
 * Who owns the anonymous memory: a row per owner (bytes, huge, coverage, its biggest reason),
 * the runtimes read, then each fix that holds here with its cost and source.
 */
export function renderOwners(o: OwnersJson, paint: Palette, fold?: number): string {
  const rows = o.byOwner.map((t) => {
    const top = (Object.entries(t.reasons) as [Reason, number][]).sort((a, b) => b[1] - a[1])[0];
    return [t.owner, formatBytes(t.anonymous), formatBytes(t.anonHugePages), formatPercent(t.coverage), top ? paint.dim(`${top[0]} ${formatBytes(top[1])}`) : ''];
  });
  const runtimes = o.runtimes.map((r) => `${r.name}${r.version ? ` ${r.version}` : ''}`).join(' · ') || 'none recognised';
  const fixes = o.fixes.flatMap((f) => [
    `  ${paint.bold(f.owners.join(', '))} ${paint.dim(`(${f.versions}${f.version ? `; here ${f.version}` : ''})`)}: ${f.action}`,
    paint.dim(`    cost: ${f.cost} · ${f.source}`),
  ]);
  return [
    `${paint.bold('by owner')} ${paint.dim(`(who made each VMA; runtimes: ${runtimes}; the evidence per VMA is in --json)`)}`,
    renderTable([{ title: 'owner' }, { title: 'anon', align: 'right' }, { title: 'huge', align: 'right' }, { title: 'coverage', align: 'right' }, { title: 'most small bytes' }], rows, { header: paint.bold, width: fold }),
    ...(fixes.length ? ['', paint.bold('what each owner can change'), ...fixes] : []),
  ].join('\n');
}

/** One line per multi-size THP size that is not `never`, with its fault counters. */
function mthpLines(r: SystemReport, paint: Palette): string[] {
  const on = Object.entries(r.mthp).filter(([, m]) => m.enabled && m.enabled !== 'never');
  return on.map(([size, m], i) =>
    labelled(i === 0 ? 'mTHP' : '', `${size} ${m.enabled}${'anon_fault_alloc' in m.stats ? ` · fault_alloc ${m.stats.anon_fault_alloc} fallback ${m.stats.anon_fault_fallback ?? 0} · nr_anon ${m.stats.nr_anon ?? 0}` : ''}`, paint),
  );
}

/** A reason's short label for tables: the code itself, which JSON and docs use too, and its prediction in a few words. */
export function reasonRows(reasons: AccountJson['reasons'], paint: Palette, indent: string): string[][] {
  return (Object.entries(reasons) as [Reason, number][])
    .sort((a, b) => b[1] - a[1] || REASONS.findIndex((x) => x.code === a[0]) - REASONS.findIndex((x) => x.code === b[0]))
    .map(([code, n]) => [`${indent}${code}`, formatBytes(n), paint.dim(predictionOf(code))]);
}

/**
 * The buckets of AccountJson as an indented tree: anonymous = PMD-mapped + PTE-mapped THP +
 * small, small = the reasons. Every line says its source.
 */
export function renderAccount(a: AccountJson, paint: Palette, fold?: number, bySize?: ThpBySize | null): string {
  const pte = a.pteMappedThp === null ? ['  in THPs mapped by PTEs', '?', paint.dim('not visible without root (/proc/kpageflags): counted under small pages')] : ['  in THPs mapped by PTEs', formatBytes(a.pteMappedThp), paint.dim('split or partial THP, mTHP (pagemap PFNs + kpageflags)')];
  return renderTable(
    [{ title: '' }, { title: '', align: 'right' }, { title: '' }],
    [
      ['anonymous', formatBytes(a.anonymous), paint.dim('smaps Anonymous')],
      ['  on PMD huge pages', formatBytes(a.pmdMapped), paint.dim('smaps AnonHugePages')],
      pte,
      ...sizeRows(bySize, 'anon', paint, '    '),
      ['  on small pages, why', formatBytes(a.small), paint.dim('the rest, by the first reason that applies (hugespan why)')],
      ...reasonRows(a.reasons, paint, '    '),
      ...fileSizeRows(bySize, paint),
    ],
    { header: false, width: fold },
  );
}

/** A kind's THPs mapped by PTEs by folio size (thpmaps' keys), biggest first. */
function sizeRows(bySize: ThpBySize | null | undefined, kind: 'anon' | 'file', paint: Palette, indent: string): string[][] {
  if (!bySize) return [];
  return Object.entries(bySize)
    .filter(([k]) => k.startsWith(`${kind}-`))
    .sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))
    .map(([k, n]) => [`${indent}${k}`, formatBytes(n), paint.dim(k.endsWith('-partial') ? 'folios mapped in part' : 'folios mapped whole (kpageflags)')]);
}

/** Page-cache and shmem folios mapped by PTEs, by size: not anonymous, so beside the buckets. */
function fileSizeRows(bySize: ThpBySize | null | undefined, paint: Palette): string[][] {
  if (bySize === undefined) return [];
  if (bySize === null) return [['file THPs mapped by PTEs', '?', paint.dim('not visible without root (/proc/kpageflags)')]];
  return [['file THPs mapped by PTEs', formatBytes(kindBytes(bySize, 'file')), paint.dim('page cache and shmem folios, every mapping (not anonymous)')], ...sizeRows(bySize, 'file', paint, '  ')];
}

function otherHugeLine(r: ProcessReport): string[] {
  const o = r.totals.otherHuge;
  const parts = [
    o.filePmdMapped && `file ${formatBytes(o.filePmdMapped)} (FilePmdMapped)`,
    o.shmemPmdMapped && `shmem ${formatBytes(o.shmemPmdMapped)} (ShmemPmdMapped)`,
    o.privateHugetlb + o.sharedHugetlb && `hugetlb ${formatBytes(o.privateHugetlb + o.sharedHugetlb)} (Private_/Shared_Hugetlb)`,
  ].filter(Boolean);
  return parts.length ? ['', `huge pages that are not anonymous THP: ${parts.join(' · ')}`] : [];
}

/**
 * A counter's change per second from `before` to `now`, seconds apart; undefined where either
 * report lacks it. Counters are events since boot, so a later reading is never below an earlier one.
 */
function perSecond(now: Record<string, number>, before: Record<string, number>, key: string, seconds: number): string | undefined {
  if (!(key in now) || !(key in before)) return undefined;
  return `${((now[key] - before[key]) / seconds).toFixed(1)}/s`;
}

/**
 * `previous`: the report of the frame before (report --watch). Then the vmstat counters shown
 * are rates per second between the two reports' times, since totals since boot hide what is
 * happening now; the first frame, and JSON always, carry the totals.
 */
const CAP_SYS_PTRACE = 19;

/**
 * Why smaps was refused, from what this process may do: without CAP_SYS_PTRACE, ptrace read
 * access is the rule (same user, or root); with it, only a security module or another user
 * namespace can still refuse.
 */
function whyUnreadable(): string {
  let caps = 0n;
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1];
    caps = hex ? BigInt(`0x${hex}`) : 0n;
  } catch {
    // unknown: treated as no capability
  }
  if (caps & (1n << BigInt(CAP_SYS_PTRACE))) return 'refused even with CAP_SYS_PTRACE: a security module (SELinux, AppArmor) or another user namespace denies reading their memory map';
  if (process.geteuid?.() === 0) return 'this root has no CAP_SYS_PTRACE (a container that dropped it?), which reading another user\'s memory map needs';
  return 'their memory map needs ptrace read access (run as their user or root to include them)';
}

export function renderSystemTable(r: SystemReport, options: { paint: Palette; width: number; fold?: number; previous?: SystemReport }): string {
  const { paint } = options;
  const m = r.memory;
  const seconds = options.previous ? (Date.parse(r.time) - Date.parse(options.previous.time)) / 1000 : 0;
  // Two readings in the same millisecond have no rate: show the totals rather than divide by 0.
  const before = seconds > 0 ? options.previous : undefined;
  const counters = KEY_COUNTERS.filter((k) => k in r.counters).map((k) => `${k.slice(4)} ${before ? (perSecond(r.counters, before.counters, k, seconds) ?? '-') : r.counters[k]}`);
  if (before) counters.push(paint.dim(`(per second over the last ${seconds.toFixed(1)} s)`));
  const events = wrapItems(counters, options.width - LABEL - 2);
  const stall = before ? `compact_stall ${perSecond(r.compaction, before.compaction, 'compact_stall', seconds) ?? '-'}` : `compact_stall ${r.compaction.compact_stall ?? 0}`;
  const rows = r.processes.map((p) => [
    String(p.pid),
    printable(p.comm),
    formatBytes(p.anonymous),
    formatBytes(p.anonHugePages),
    p.thpDisabled ? paint.dim('-') : formatPercent(p.coverage),
    formatBytes(p.rss),
    p.thpDisabled ? paint.yellow('off (prctl)') : '',
  ]);
  const table = renderTable(
    [{ title: 'pid', align: 'right' }, { title: 'comm' }, { title: 'anon', align: 'right' }, { title: 'huge', align: 'right' }, { title: 'coverage', align: 'right' }, { title: 'rss', align: 'right' }, { title: 'THP' }],
    rows,
    { header: paint.bold, width: options.fold },
  );
  const unreadable = r.unreadable ? [paint.dim(`${plural(r.unreadable, 'more process', 'more processes')} not readable: ${whyUnreadable()}`)] : [];
  return [
    `${paint.bold('system')}  ${paint.dim(when(r.time))}`,
    labelled('host', hostLine(r.host, r.thp), paint),
    labelled('memory', `anonymous ${formatBytes(m.anonymous)} · on huge pages ${formatBytes(m.anonHugePages)} · coverage ${formatPercent(m.coverage)} ${paint.dim('(meminfo)')}`, paint),
    ...events.map((line, i) => labelled(i === 0 ? (before ? 'events/s' : 'events') : '', line, paint)),
    labelled('order 9+', `${r.freeHugeBlocks.map((z) => `${z.zone} ${z.blocks}`).join(' · ') || '-'} ${paint.dim(`free huge-page-sized blocks (buddyinfo); ${stall}`)}`, paint),
    ...mthpLines(r, paint),
    '',
    `${paint.bold(`${r.processes.length === r.readable ? (r.readable === 1 ? 'the one' : 'all') : `top ${r.processes.length} of`} ${r.readable === 1 ? 'process' : `${r.readable} processes`} by anonymous memory`)} ${paint.dim('(smaps_rollup)')}`,
    table,
    ...unreadable,
    '',
  ].join('\n');
}

export function renderCgroupTable(r: CgroupReport, options: { paint: Palette; fold?: number; all?: boolean }): string {
  const { paint } = options;
  // The largest first, the top ones as in the host view (JSON keeps them all).
  const ranked = [...r.processes].sort((a, b) => b.anonymous - a.anonymous || a.pid - b.pid);
  const shown = options.all ? ranked : ranked.slice(0, TOP_PROCESSES);
  const rest = ranked.slice(shown.length);
  const rows = shown.map((p) => [String(p.pid), printable(p.comm), formatBytes(p.anonymous), formatBytes(p.anonHugePages), p.thpDisabled ? paint.dim('-') : formatPercent(p.coverage)]);
  const other = r.version === 2 ? ` · file THP ${formatBytes(r.fileThp ?? 0)} · shmem THP ${formatBytes(r.shmemThp ?? 0)}` : ' · (cgroup v1 counts no file or shmem THP)';
  return [
    `${paint.bold(`cgroup ${printable(r.path)}`)}  ${paint.dim(`v${r.version} · ${when(r.time)}`)}`,
    labelled('host', hostLine(r.host, r.thp), paint),
    labelled('memory', `anonymous ${formatBytes(r.anonymous)} · on huge pages ${formatBytes(r.anonHugePages)} · coverage ${formatPercent(r.coverage)}${other} ${paint.dim('(memory.stat)')}`, paint),
    '',
    `${paint.bold(`${rest.length ? `top ${shown.length} of ` : ''}${plural(r.processes.length, 'process', 'processes')} in it${rest.length ? ', by anonymous memory' : ''}`)} ${paint.dim('(smaps_rollup)')}${r.unreadable ? paint.dim(` · ${r.unreadable} more not readable`) : ''}`,
    renderTable([{ title: 'pid', align: 'right' }, { title: 'comm' }, { title: 'anon', align: 'right' }, { title: 'huge', align: 'right' }, { title: 'coverage', align: 'right' }], rows, { header: paint.bold, width: options.fold }),
    ...(rest.length ? [paint.dim(`… ${plural(rest.length, 'more process', 'more processes')} holding ${formatBytes(rest.reduce((n, p) => n + p.anonymous, 0))} anonymous (--all lists them)`)] : []),
    '',
    ...sharingLines(r),
  ].join('\n');
}

/**
 * The cgroup's total beside its processes' sum: pages shared between processes are charged once
 * to the cgroup and counted in each process's figures; the lines say so and show by how much.
 */
function sharingLines(r: CgroupReport): string[] {
  const s = r.sharing;
  return [
    `the processes' anonymous memory sums to ${formatBytes(s.processesAnonymous)}; the cgroup counts ${formatBytes(r.anonymous)} (difference ${formatBytes(s.difference)}):`,
    `  pages shared between processes (a forked child's copy-on-write pages) are charged once to the cgroup`,
    `  but counted in each process's figures: here ${formatBytes(s.sharedExcess)} counted more than once (Σ Anonymous - Σ Pss_Anon);`,
    `  the rest, ${formatBytes(s.difference - s.sharedExcess)}: below 0, memory charged that no readable process maps; above, pages charged to another cgroup; or the cgroup changing while read`,
    '',
  ];
}
