/** Tests run the TypeScript sources directly; the addon comes from build/Release. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  // Real-memory tests read their own VMAs; two workers keep them off each other's CPU time.
  maxWorkers: 2,
  testTimeout: 60000,
  // Each test by name, so a THP test that could not run shows its skip reason in the log.
  verbose: true,
};
