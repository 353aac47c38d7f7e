/**
 * The kernel read back after every step, and compared with the model (model.ts).
 * Invariant: each check reads the kernel itself (/proc/self/maps, PAGEMAP_SCAN through the
 * raw ioctl) or the addon's books, never the model's own bookkeeping, and a disagreement is
 * thrown as a Mismatch naming the mapping, the page range and both sides.
 */
import * as fs from 'node:fs';
import { binding } from '../../dist/native/binding';
import { Model, MapModel, Ranges, merge, intersect, subtract, expectedAccess, expectedKeeping, expectedViewCount } from './model';

export const P: number = binding.pageSize();

export class Mismatch extends Error {
  override name = 'Mismatch';
}

interface KVma {
  start: number;
  end: number;
  perms: string;
}

export function readMaps(): KVma[] {
  const out: KVma[] = [];
  for (const line of fs.readFileSync('/proc/self/maps', 'latin1').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+)/.exec(line);
    if (m) out.push({ start: parseInt(m[1], 16), end: parseInt(m[2], 16), perms: m[3] });
  }
  return out;
}

/** Pages of [base, base + pages·P) that the kernel maps at all, and those it maps read/write. */
function kernelPages(vmas: KVma[], base: number, pages: number): { mapped: Ranges; rw: Ranges } {
  const end = base + pages * P;
  const mapped: Ranges = [];
  const rw: Ranges = [];
  for (const v of vmas) {
    if (v.end <= base || v.start >= end) continue;
    const r: [number, number] = [(Math.max(v.start, base) - base) / P, (Math.min(v.end, end) - base) / P];
    mapped.push(r);
    if (v.perms.startsWith('rw')) rw.push([...r]);
  }
  return { mapped: merge(mapped), rw: merge(rw) };
}

function show(r: Ranges): string {
  return r.length ? r.map(([s, e]) => `[${s},${e})`).join('') : '∅';
}

let scan: boolean | undefined;
function pagemapScan(): boolean {
  if (scan === undefined) {
    try {
      binding.pagemapScan('self', P, 2 * P);
      scan = true;
    } catch {
      scan = false;
    }
  }
  return scan;
}

export interface Real {
  /** The Mapping or raw handle of each model map, by id. */
  objs: any[];
  /** Held views (local or detached) and moved buffers (escaped), by view id. */
  views: Map<number, Uint8Array>;
  moved: Map<number, ArrayBuffer>;
  /** The addon's counters at the start of the run. */
  base: { mapped: number; unmapped: number; keeping: number; orphaned: number };
  /** What the hostile steps found out of band (a view that should not exist, ...). */
  notes: string[];
}

export function addressOf(real: Real, x: MapModel): number {
  return real.objs[x.id].address;
}

/**
 * Model vs kernel vs books, after one step. `settled`: a settle step just ran, so no view is
 * in flux and counts must be exact.
 */
export function check(model: Model, real: Real, settled: boolean): void {
  const vmas = readMaps();
  const books = new Map<number, { committed: [number, number][]; views: number }>();
  for (const e of binding.mappings()) books.set(e.address, e);
  for (const x of model.maps) {
    const base = addressOf(real, x);
    const where = `map#${x.id} (${x.via}, ${x.pages} pages at 0x${base.toString(16)})`;
    const { rw, none } = expectedAccess(model, x);
    const k = kernelPages(vmas, base, x.pages);
    if (x.live) {
      const unmappedPages = subtract([[0, x.pages]], k.mapped);
      if (unmappedPages.length) throw new Mismatch(`${where}: live, yet the kernel maps nothing at pages ${show(unmappedPages)}`);
    }
    const missing = subtract(rw, k.rw);
    if (missing.length) throw new Mismatch(`${where}: pages ${show(missing)} must be read/write (books ${show(x.committed)}), the kernel has rw ${show(k.rw)}`);
    const extra = intersect(none, k.rw);
    if (extra.length) throw new Mismatch(`${where}: pages ${show(extra)} must have no access (model committed ${show(x.committed)}), the kernel has rw ${show(k.rw)}`);
    // The handle's own books.
    const obj = real.objs[x.id];
    const live = x.via === 'class' ? obj.live : binding.live(obj);
    if (live !== x.live) throw new Mismatch(`${where}: live is ${live}, the model says ${x.live}`);
    const committed: [number, number][] = x.via === 'class' ? obj.committed : binding.committed(obj);
    const got = show(committed.map(([o, l]) => [o / P, (o + l) / P] as [number, number]));
    if (got !== show(x.committed)) throw new Mismatch(`${where}: committed() says ${got}, the model ${show(x.committed)}`);
    // binding.mappings(): every live mapping listed with the same books; no unmapped one.
    const b = books.get(base);
    if (x.live && !b) throw new Mismatch(`${where}: live but missing from binding.mappings()`);
    if (!x.live && b && !model.maps.some((y) => y.live && addressOf(real, y) === base)) throw new Mismatch(`${where}: unmapped but still in binding.mappings()`);
    if (b && x.live) {
      const bs = show(b.committed.map(([o, l]) => [o / P, (o + l) / P] as [number, number]));
      if (bs !== show(x.committed)) throw new Mismatch(`${where}: mappings() has committed ${bs}, the model ${show(x.committed)}`);
      const vc = expectedViewCount(model, x, settled);
      if (b.views < vc.min || b.views > vc.max) {
        throw new Mismatch(`${where}: mappings() lists ${b.views} views, the model ${vc.min}..${vc.max}${settled ? ' (settled)' : ''}`);
      }
    }
    if (x.live && pagemapScan()) checkPresence(where, x, base);
  }
  const c = binding.counters();
  const d = { mapped: c.mapped - real.base.mapped, unmapped: c.unmapped - real.base.unmapped, keeping: c.keeping - real.base.keeping, orphaned: c.orphaned - real.base.orphaned };
  if (d.mapped !== model.mapped) throw new Mismatch(`counters: ${d.mapped} regions mapped this run, the model ${model.mapped}`);
  if (d.unmapped !== model.unmapped) throw new Mismatch(`counters: ${d.unmapped} regions unmapped this run, the model ${model.unmapped}`);
  const kp = expectedKeeping(model);
  if (settled ? d.keeping !== kp.min : d.keeping < kp.min || d.keeping > kp.max) {
    throw new Mismatch(`counters: keeping went up by ${d.keeping}, the model ${settled ? kp.min : `${kp.min}..${kp.max}`} (unmapped regions held by escaped views)`);
  }
  if (d.orphaned !== 0) throw new Mismatch(`counters: ${d.orphaned} bytes orphaned this run; no view of ours left a thread`);
  if (real.notes.length) throw new Mismatch(real.notes.join('; '));
}

/** PAGEMAP_SCAN: pages the model says were dropped are not present, pages it touched are. */
function checkPresence(where: string, x: MapModel, base: number): void {
  const { runs } = binding.pagemapScan('self', base, base + x.pages * P, true);
  const present: Ranges = [];
  for (let i = 0; i < runs.length; i += 3) present.push([(runs[i] - base) / P, (runs[i + 1] - base) / P]);
  const have = merge(present);
  const must: Ranges = [];
  const mustNot: Ranges = [];
  x.present.forEach((s, p) => {
    if (s === 1) must.push([p, p + 1]);
    if (s === 0) mustNot.push([p, p + 1]);
  });
  const lost = subtract(merge(must), have);
  if (lost.length) throw new Mismatch(`${where}: touched pages ${show(lost)} are not present (PAGEMAP_SCAN has ${show(have)})`);
  // Only while nothing of the mapping is present: khugepaged may fill in the rest of a huge
  // page around any present page (max_ptes_none), so "absent" holds only for a mapping with none.
  const stray = x.present.every((s) => s === 0) ? intersect(merge(mustNot), have) : [];
  if (stray.length) throw new Mismatch(`${where}: pages ${show(stray)} were dropped or never touched, yet present (PAGEMAP_SCAN)`);
}
