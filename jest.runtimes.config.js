/** npm run test:runtimes: the real-runtime tests (test/runtimes/*.runtime.ts), one at a time. */
const base = require('./jest.config.js');

module.exports = { ...base, roots: ['<rootDir>/test/runtimes'], testMatch: ['**/*.runtime.ts'], maxWorkers: 1, testTimeout: 300000 };
