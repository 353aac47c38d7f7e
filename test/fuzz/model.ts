/**
 * The fuzzer's model: what every mapping made during one run should look like, in OS pages.
 * Invariant: the model changes only through the functions here, each mirroring what the
 * documented API promises (README, src/native/mapping.ts); after every step the kernel and the
 * addon's books must agree with it (kernel.ts). Where the promise depends on when the collector
 * runs (a dropped view not yet finalized) the model says "unknown" until the next settle step.
 */

/** Half-open page intervals [start, end), sorted and merged. */
export type Ranges = [number, number][];

export function merge(r: Ranges): Ranges {
  const out: Ranges = [];
  for (const [s, e] of [...r].sort((a, b) => a[0] - b[0])) {
    if (s >= e) continue;
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

export function subtract(r: Ranges, cut: Ranges): Ranges {
  let out = merge(r);
  for (const [cs, ce] of cut) {
    const next: Ranges = [];
    for (const [s, e] of out) {
      if (e <= cs || s >= ce) next.push([s, e]);
      else {
        if (s < cs) next.push([s, cs]);
        if (e > ce) next.push([ce, e]);
      }
    }
    out = next;
  }
  return out;
}

export function intersect(a: Ranges, b: Ranges): Ranges {
  const out: Ranges = [];
  for (const [s, e] of a) for (const [t, f] of b) if (Math.max(s, t) < Math.min(e, f)) out.push([Math.max(s, t), Math.min(e, f)]);
  return merge(out);
}

export function covers(r: Ranges, s: number, e: number): boolean {
  return r.some(([a, b]) => a <= s && e <= b);
}

/**
 * A view's life: `local` (its Uint8Array is held and attached), `detached` (the addon detached
 * it: decommit/unmap), `escaped` (its buffer was moved by ArrayBuffer.prototype.transfer and the
 * moved buffer is held: its pages must stay read/write), `dropped` (no reference left, the
 * collector decides when it goes: unknown until settled), `detachedDropped` (a detached view
 * we let go of: no pages, gone once settled), `gone` (finalized).
 */
export type ViewState = 'local' | 'detached' | 'escaped' | 'dropped' | 'detachedDropped' | 'gone';

export interface ViewModel {
  id: number;
  map: number;
  off: number;
  pages: number;
  state: ViewState;
  /** An escaped or dropped view held pages the addon may keep mapped for it. */
  escapedOnce: boolean;
}

/** 0: no page there (never touched, or dropped); 1: present; 2: unknown (MADV_FREE, collapse, a view write we did not make). */
export type Presence = 0 | 1 | 2;

export interface MapModel {
  id: number;
  /** 'class': a Mapping; 'binding': a raw handle from binding.map. */
  via: 'class' | 'binding';
  pages: number;
  live: boolean;
  committed: Ranges;
  present: Presence[];
}

export interface Model {
  maps: MapModel[];
  views: ViewModel[];
  /** Regions mapped and unmapped by this run (the addon's process-wide counters, less their value at the start). */
  mapped: number;
  unmapped: number;
  nextView: number;
  /** Steps that ran (for the report). */
  calls: number;
}

export function emptyModel(): Model {
  return { maps: [], views: [], mapped: 0, unmapped: 0, nextView: 0, calls: 0 };
}

export function pick<T>(list: readonly T[], k: number): T | undefined {
  return list.length ? list[k % list.length] : undefined;
}

export function liveMaps(m: Model): MapModel[] {
  return m.maps.filter((x) => x.live);
}

export function addMap(m: Model, via: MapModel['via'], pages: number, commit: boolean): MapModel {
  const x: MapModel = { id: m.maps.length, via, pages, live: true, committed: commit ? [[0, pages]] : [], present: new Array(pages).fill(0) };
  m.maps.push(x);
  m.mapped++;
  return x;
}

/** Views over [s, e) of map `id` that the addon may still treat as alive (escaped or not yet finalized). */
function viewsOver(m: Model, id: number, s: number, e: number, states: ViewState[]): ViewModel[] {
  return m.views.filter((v) => v.map === id && states.includes(v.state) && v.off < e && s < v.off + v.pages);
}

export function commit(x: MapModel, s: number, e: number): void {
  x.committed = merge([...x.committed, [s, e]]);
}

/**
 * The views over [s, e) the addon detaches: local ones, and dropped ones that never escaped
 * (their live handle pins them, so the addon still sees them local). A moved buffer dropped is
 * JS's alone: the addon cannot detach it.
 */
function detachOver(m: Model, x: MapModel, s: number, e: number): void {
  for (const v of viewsOver(m, x.id, s, e, ['local', 'dropped'])) {
    if (v.state === 'local') v.state = 'detached';
    else if (!v.escapedOnce) v.state = 'detachedDropped';
  }
}

/** decommit: books lose the range, views over it are detached, every page is dropped. */
export function decommit(m: Model, x: MapModel, s: number, e: number): void {
  x.committed = subtract(x.committed, [[s, e]]);
  detachOver(m, x, s, e);
  for (let p = s; p < e; p++) x.present[p] = 0;
}

export function unmap(m: Model, x: MapModel): void {
  detachOver(m, x, 0, x.pages);
  x.live = false;
  x.committed = [];
  m.unmapped++;
}

export function addView(m: Model, x: MapModel, off: number, pages: number): ViewModel {
  const v: ViewModel = { id: m.nextView++, map: x.id, off, pages, state: 'local', escapedOnce: false };
  m.views.push(v);
  return v;
}

/** After gc() and a few turns of the event loop: every buffer we do not hold is finalized. */
export function settle(m: Model): void {
  // A live mapping's handle holds its views (native/mapping.h: pinned, up to 1024 a mapping;
  // the fuzzer makes far fewer): a dropped view of one stays listed until the mapping goes.
  const live = new Set(m.maps.filter((x) => x.live).map((x) => x.id));
  for (const v of m.views) {
    // A view that escaped is no longer pinned (its pinned buffer is the detached original): gone.
    if (v.state === 'dropped' && live.has(v.map) && !v.escapedOnce) continue;
    if (v.state === 'dropped' || v.state === 'detachedDropped') v.state = 'gone';
  }
  m.views = m.views.filter((v) => v.state !== 'gone');
}

/**
 * What the kernel must show for a live mapping, per page: `rw` pages must be read/write,
 * `none` pages must not be; the rest may be either (a dropped view not yet finalized).
 * Escaped views keep their pages read/write whatever the books say (a buffer the addon can
 * no longer detach must never fault).
 */
export function expectedAccess(m: Model, x: MapModel): { rw: Ranges; none: Ranges } {
  const held = merge(viewsOver(m, x.id, 0, x.pages, ['escaped']).map((v) => [v.off, v.off + v.pages] as [number, number]));
  const maybe = merge(viewsOver(m, x.id, 0, x.pages, ['dropped']).map((v) => [v.off, v.off + v.pages] as [number, number]));
  const rw = x.live ? merge([...x.committed, ...held]) : held;
  const none = x.live ? subtract(subtract([[0, x.pages]], rw), maybe) : [];
  return { rw, none };
}

/** Unmapped regions whose pages an escaped view must still hold: `min` surely, `max` if every unsettled view counts. */
export function expectedKeeping(m: Model): { min: number; max: number } {
  let min = 0;
  let max = 0;
  for (const x of m.maps) {
    if (x.live) continue;
    const vs = m.views.filter((v) => v.map === x.id);
    if (vs.some((v) => v.state === 'escaped')) min++;
    if (vs.some((v) => v.state === 'escaped' || v.state === 'dropped')) max++;
  }
  return { min, max };
}

/**
 * Views the addon lists for a live mapping: at least those whose buffer we hold attached; a
 * detached one we still hold may or may not be finalized yet; unsettled, any not yet gone.
 */
export function expectedViewCount(m: Model, x: MapModel, settled: boolean): { min: number; max: number } {
  const vs = m.views.filter((v) => v.map === x.id);
  // Settled, the dropped views still here are the ones the live handle pins (see settle).
  const min = vs.filter((v) => v.state === 'local' || v.state === 'escaped' || (settled && v.state === 'dropped')).length;
  return { min, max: settled ? min + vs.filter((v) => v.state === 'detached').length : vs.length };
}
