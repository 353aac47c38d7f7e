'use strict';
/**
 * Row 2's baseline: the smaps parser a JS programmer would write first — readFileSync, split
 * into lines, a regex per line — producing the same records as the addon (fields in bytes
 * under camelCase keys, thpEligible as a boolean, vmFlags as an array).
 */
const fs = require('node:fs');

const HEADER = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S{4})\s+([0-9a-f]+)\s+([0-9a-f]+:[0-9a-f]+)\s+(\d+)\s*(.*)$/;
const FIELD = /^(\w+):\s+(\d+)(?:\s+kB)?$/;

const camelCache = new Map();
/** "Pss_Dirty" -> "pssDirty", "KSM" -> "ksm", "MMUPageSize" -> "mmuPageSize", "THPeligible" -> "thpEligible". */
function camel(key) {
  let c = camelCache.get(key);
  if (c === undefined) {
    if (key === 'THPeligible') c = 'thpEligible';
    else {
      const parts = key.split('_').filter(Boolean);
      const first = parts[0];
      const lead = /[a-z]/.test(first) ? first.replace(/^([A-Z]+)(?=[A-Z][a-z])|^[A-Z]/, (m) => m.toLowerCase()) : first.toLowerCase();
      c = lead + parts.slice(1).map((p) => p[0].toUpperCase() + p.slice(1)).join('');
    }
    camelCache.set(key, c);
  }
  return c;
}

function parseSmapsText(text) {
  const vmas = [];
  let vma;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const h = HEADER.exec(line);
    if (h) {
      vma = {
        start: parseInt(h[1], 16),
        end: parseInt(h[2], 16),
        perms: h[3],
        offset: parseInt(h[4], 16),
        dev: h[5],
        inode: Number(h[6]),
        path: h[7],
        vmFlags: [],
      };
      vmas.push(vma);
      continue;
    }
    if (line.startsWith('VmFlags:')) {
      vma.vmFlags = line.slice(8).trim().split(/\s+/);
      continue;
    }
    const f = FIELD.exec(line);
    if (!f) throw new Error(`cannot parse smaps line: ${line}`);
    if (f[1] === 'THPeligible') vma.thpEligible = f[2] === '1';
    else vma[camel(f[1])] = line.endsWith('kB') ? Number(f[2]) * 1024 : Number(f[2]);
  }
  return vmas;
}

function readSmapsJs(pid = 'self') {
  return parseSmapsText(fs.readFileSync(`/proc/${pid}/smaps`, 'utf8'));
}

module.exports = { readSmapsJs, parseSmapsText, camel };
