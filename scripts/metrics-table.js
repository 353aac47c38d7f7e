#!/usr/bin/env node
'use strict';
/**
 * README's metric table, printed from the vocabulary (dist/cli/metrics.js): `node
 * scripts/metrics-table.js` prints it; test/cli/metrics-vocabulary.test.ts checks that README
 * holds exactly this text and that a live scrape writes these families.
 */
const path = require('node:path');

function table(FAMILIES) {
  const scopeLabels = { host: [], exporter: [], cgroup: ['`cgroup`'], process: ['`pid`, `comm` (or the `--group-by` key)'] };
  const rows = FAMILIES.map((f) => {
    const name = f.type === 'counter' ? `${f.name}_total` : f.type === 'info' ? `${f.name}_info` : f.name;
    const labels = [...(f.grouped ? ['the `--group-by` key'] : scopeLabels[f.scope]), ...f.labels.map((l) => `\`${l}\``)].join(', ');
    return `| \`${name}\` | ${f.type} | ${labels} | ${f.source} | ${f.when ?? ''} |`;
  });
  return ['| metric | type | labels | source | written |', '|---|---|---|---|---|', ...rows].join('\n');
}

module.exports = { table };

if (require.main === module) {
  const { FAMILIES } = require(path.join(__dirname, '..', 'dist', 'cli', 'metrics.js'));
  console.log(table(FAMILIES));
}
