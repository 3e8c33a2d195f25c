'use strict';
// Four suites, one folder each: `npm test` runs core (everything not needing servers, namespaces or npm
// installs); CI also runs integration (real servers), faults (network namespaces) and package (npm pack + install).
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] };
const suite = (displayName, extra) => ({ displayName, testEnvironment: 'node', transform, ...extra });

module.exports = {
  // Per-project testTimeout is not a Jest option; suites that need longer set jest.setTimeout themselves.
  // A suite is a folder: test/integration (real servers), test/faults (network namespaces), test/install (npm pack
  // and install); core is every other folder under test/.
  projects: [
    suite('core', {
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/integration/', '<rootDir>/test/faults/', '<rootDir>/test/install/'],
    }),
    suite('integration', { testMatch: ['<rootDir>/test/integration/**/*.test.ts'] }),
    suite('faults', { testMatch: ['<rootDir>/test/faults/**/*.test.ts'] }),
    suite('package', { testMatch: ['<rootDir>/test/install/**/*.test.ts'] }),
  ],
  // `npm run coverage`: the core suite's coverage of the library (src/). CI fails below these floors.
  collectCoverageFrom: ['src/**/*.ts', '!src/**/*.d.ts'],
  coverageReporters: ['text-summary', 'text', 'lcov'],
  // A few points under what the core suite measured (November 2026: core 88/82/95/92, planner 96/92/88/98, the
  // rest 54/42/52/56 % statements/branches/functions/lines). The rest is lower because the command line,
  // register and the client integrations are mostly exercised in child processes and by the integration suite,
  // which coverage does not follow.
  coverageThreshold: {
    './src/core/': { statements: 85, branches: 78, functions: 90, lines: 88 },
    './src/planner/': { statements: 93, branches: 88, functions: 85, lines: 95 },
    global: { statements: 50, branches: 38, functions: 48, lines: 52 },
  },
};
