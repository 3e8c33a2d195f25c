'use strict';
// Three suites: `npm test` runs core (everything not needing servers or namespaces);
// CI also runs integration (real servers) and faults (network namespaces).
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] };
const suite = (displayName, extra) => ({ displayName, testEnvironment: 'node', transform, ...extra });

module.exports = {
  projects: [
    suite('core', {
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/integration/', '<rootDir>/test/faults/'],
    }),
    suite('integration', { testMatch: ['<rootDir>/test/integration/**/*.test.ts'], testTimeout: 30000 }),
    suite('faults', { testMatch: ['<rootDir>/test/faults/**/*.test.ts'], testTimeout: 60000 }),
  ],
};
