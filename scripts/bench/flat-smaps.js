'use strict';
/**
 * Row 1's proposed conversion, measured by the bench: the addon hands over the parsed VMAs in
 * four values (napi_probe.cc's smapsFlat: the key names once, every number in one Float64Array,
 * the field lists in a Uint32Array, every string of the file in one \0-separated string) and
 * JS builds the objects with a function generated once per field list — an object literal, so
 * every VMA object gets its hidden class at once, with no per-property lookups. Same records as
 * binding.parseSmaps, keys in the same order (the bench checks).
 */
const factories = new Map();

/** The literal-building function for one field list (key ids) and thpEligible presence. */
function factory(keys, ids, thp) {
  const sig = `${thp}:${ids.join(',')}`;
  let f = factories.get(sig);
  if (!f) {
    const fields = ids.map((id, k) => `${JSON.stringify(keys[id])}: v[o + ${4 + k}]`);
    const body = `return { start: v[o], end: v[o + 1], perms: s[4 * i], offset: v[o + 2], dev: s[4 * i + 1], inode: v[o + 3], path: s[4 * i + 2]${
      fields.length ? `, ${fields.join(', ')}` : ''}${thp ? ', thpEligible: t' : ''}, vmFlags: fl };`;
    f = new Function('v', 'o', 's', 'i', 't', 'fl', body);
    factories.set(sig, f);
  }
  return f;
}

function buildVmas({ keys, shape, nums, strs }) {
  const s = strs.split('\0');
  const count = (s.length - 1) / 4;
  const out = new Array(count);
  let at = 0;
  let o = 0;
  let make;
  let lastIds = null;
  let lastThp = -1;
  for (let i = 0; i < count; i++) {
    const n = shape[at];
    const thp = shape[at + n + 1];
    // Almost always the same field list as the previous VMA: compare ids instead of hashing them.
    let same = lastIds !== null && lastIds.length === n && ((thp === 0) === (lastThp === 0));
    for (let k = 0; same && k < n; k++) same = shape[at + 1 + k] === lastIds[k];
    if (!same) {
      lastIds = Array.from(shape.subarray(at + 1, at + 1 + n));
      lastThp = thp;
      make = factory(keys, lastIds, thp !== 0);
    }
    const fl = s[4 * i + 3];
    out[i] = make(nums, o, s, i, thp === 2, fl === '' ? [] : fl.split(' '));
    at += n + 2;
    o += 4 + n;
  }
  return out;
}

module.exports = { buildVmas };
