/**
 * A report's VMA as JSON text, written by hand: a 60 000-VMA report spends most of its output
 * time in JSON.stringify's generic walk, and the shape here is fixed. Invariant: vmaText(v) is
 * exactly JSON.stringify(v) for every VmaJson (test/account/json.test.ts), key order included;
 * a field added to VmaJson must be added here (the test fails until it is).
 */
import type { AccountJson, FrameJson, VmaJson } from './schema';

/** A number as JSON writes it: non-finite numbers are null. */
function num(n: number): string {
  return Number.isFinite(n) ? `${n}` : 'null';
}

/** Printable ASCII without '"' or '\\' needs no escaping. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function str(s: string): string {
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}

function strings(a: readonly string[]): string {
  let out = '[';
  for (let i = 0; i < a.length; i++) out += (i ? ',' : '') + str(a[i]);
  return `${out}]`;
}

function accountText(a: AccountJson): string {
  let reasons = '';
  for (const r in a.reasons) {
    const n = a.reasons[r as keyof AccountJson['reasons']];
    if (n !== undefined) reasons += `${reasons ? ',' : ''}${str(r)}:${num(n)}`;
  }
  return `{"anonymous":${num(a.anonymous)},"pmdMapped":${num(a.pmdMapped)},"pteMappedThp":${a.pteMappedThp === null ? 'null' : num(a.pteMappedThp)},"small":${num(a.small)},"reasons":{${reasons}}}`;
}

function framesText(frames: readonly FrameJson[]): string {
  let out = '[';
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i];
    out += `${i ? ',' : ''}{"start":${str(f.start)},"present":${num(f.present)},"reason":${str(f.reason)}}`;
  }
  return `${out}]`;
}

/** JSON.stringify(v), faster. */
export function vmaText(v: VmaJson): string {
  return (
    `{"start":${str(v.start)},"end":${str(v.end)},"size":${num(v.size)},"perms":${str(v.perms)},"path":${str(v.path)},` +
    `"rss":${num(v.rss)},"anonymous":${num(v.anonymous)},"anonHugePages":${num(v.anonHugePages)},"coverage":${num(v.coverage)},` +
    `"thpEligible":${v.thpEligible === null ? 'null' : v.thpEligible},"vmFlags":${strings(v.vmFlags)},"eligibleNotHuge":${num(v.eligibleNotHuge)},` +
    `"account":${accountText(v.account)},"frames":${framesText(v.frames)}}`
  );
}
