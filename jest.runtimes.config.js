/** npm run test:runtimes: the real-runtime tests (test/runtimes/*.runtime.ts), one at a time. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/runtimes'],
  testMatch: ['**/*.runtime.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  maxWorkers: 1,
  testTimeout: 300000,
  verbose: true,
};
