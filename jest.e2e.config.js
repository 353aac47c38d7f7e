/** `npm run test:e2e`: the end-to-end tests (test/e2e/*.e2e.ts), one at a time, against real servers. */
const base = require('./jest.config.js');

module.exports = { ...base, testMatch: ['**/e2e/**/*.e2e.ts'], maxWorkers: 1, testTimeout: 180000 };
