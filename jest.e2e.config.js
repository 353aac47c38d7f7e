/** `npm run test:e2e`: the end-to-end tests (test/e2e/*.e2e.ts), one at a time, against real servers. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/e2e/**/*.e2e.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  maxWorkers: 1,
  testTimeout: 180000,
  verbose: true,
};
