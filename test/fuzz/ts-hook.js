// Lets a plain `node` (the fuzzer's children, scripts/fuzz-model.js) require the fuzzer's .ts
// files without a build step: each is transpiled alone (tsconfig has isolatedModules), types
// are not checked here (npm test's `tsc --noEmit` does that).
'use strict';
const fs = require('node:fs');
const ts = require('typescript');

require.extensions['.ts'] = function (module, filename) {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, inlineSourceMap: true },
    fileName: filename,
  });
  module._compile(out.outputText, filename);
};
