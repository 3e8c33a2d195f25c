'use strict';
// Three suites: `npm test` runs core (everything not needing servers or namespaces);
// CI also runs integration (real servers) and faults (network namespaces).
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] };
const suite = (displayName, extra) => ({ displayName, testEnvironment: 'node', transform, ...extra });

module.exports = {
  // Per-project testTimeout is not a Jest option; suites that need longer set jest.setTimeout themselves.
  projects: [
    suite('core', {
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/integration/', '<rootDir>/test/faults/'],
    }),
    suite('integration', { testMatch: ['<rootDir>/test/integration/**/*.test.ts'] }),
    suite('faults', { testMatch: ['<rootDir>/test/faults/**/*.test.ts'] }),
  ],
};
