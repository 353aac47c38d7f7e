/**
 * The lab's time series as one SVG (no dependencies): a panel per measure — in-use share on huge
 * pages, RSS, RSS − LazyFree, released — with one line per run over the workload's ops. Invariant:
 * the output is a standalone SVG document whose every polyline comes from the samples given.
 */
import type { Sample } from './series';

export interface PlotRun {
  label: string;
  series: readonly Sample[];
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];
const PANELS: { title: string; value: (s: Sample) => number; unit: 'share' | 'bytes' }[] = [
  { title: 'in-use memory on huge pages', value: (s) => s.inUseHugeShare, unit: 'share' },
  { title: 'arena RSS', value: (s) => s.rss, unit: 'bytes' },
  { title: 'arena RSS − LazyFree', value: (s) => s.rss - s.lazyFree, unit: 'bytes' },
  { title: 'heap released (scavenged)', value: (s) => s.released, unit: 'bytes' },
];

const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (x: number, unit: 'share' | 'bytes') => (unit === 'share' ? `${(100 * x).toFixed(0)}%` : `${(x / 2 ** 20).toFixed(0)} MiB`);

export function plotSvg(runs: readonly PlotRun[], title: string): string {
  const W = 720;
  const PH = 170;
  const L = 70;
  const R = 20;
  const TOP = 40;
  const H = TOP + PANELS.length * (PH + 30) + 30;
  const maxOp = Math.max(1, ...runs.flatMap((r) => r.series.map((s) => s.op)));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`,
  ];
  runs.forEach((r, k) => out.push(`<text x="${L + k * 110}" y="33" fill="${COLOURS[k % COLOURS.length]}">■ ${esc(r.label)}</text>`));
  PANELS.forEach((p, j) => {
    const y0 = TOP + j * (PH + 30) + 15;
    const max = p.unit === 'share' ? 1 : Math.max(1, ...runs.flatMap((r) => r.series.map(p.value)));
    const x = (op: number) => L + ((W - L - R) * op) / maxOp;
    const y = (v: number) => y0 + PH - (PH * v) / max;
    out.push(`<text x="${L}" y="${y0 - 4}" font-weight="bold">${esc(p.title)}</text>`);
    out.push(`<rect x="${L}" y="${y0}" width="${W - L - R}" height="${PH}" fill="none" stroke="#999"/>`);
    for (const f of [0, 0.5, 1]) out.push(`<text x="${L - 4}" y="${y(f * max) + 4}" text-anchor="end">${fmt(f * max, p.unit)}</text>`);
    out.push(`<text x="${W - R}" y="${y0 + PH + 13}" text-anchor="end">${maxOp} ops</text>`);
    runs.forEach((r, k) => {
      if (!r.series.length) return;
      const pts = r.series.map((s) => `${x(s.op).toFixed(1)},${y(p.value(s)).toFixed(1)}`).join(' ');
      out.push(`<polyline fill="none" stroke="${COLOURS[k % COLOURS.length]}" stroke-width="1.5" points="${pts}"/>`);
    });
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
