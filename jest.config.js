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
  // A few points under what the core suite measured (November 2026: core 88/82/95/92, planner 96/92/88/98 %
  // statements/branches/functions/lines; December 2026: the command line 89/72/94/91 — it runs in-process now, split
  // into gather, judge and render — and the rest 81/65/80/85). `global` is the rest: the files no folder entry
  // names. It stays lower because register and the client integrations are mostly exercised in child processes
  // and by the integration suite, which coverage does not follow.
  coverageThreshold: {
    './src/core/': { statements: 85, branches: 78, functions: 90, lines: 88 },
    './src/planner/': { statements: 93, branches: 88, functions: 85, lines: 95 },
    './src/cli/': { statements: 85, branches: 66, functions: 88, lines: 85 },
    global: { statements: 77, branches: 60, functions: 75, lines: 80 },
  },
};
