'use strict';
// Three suites: `npm test` runs core; CI also runs integration (real servers) and faults (namespaces).
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: { warnOnly: false } }] };
const suite = (displayName, roots, extra = {}) => ({
  displayName,
  testEnvironment: 'node',
  transform,
  testMatch: roots.map((root) => `<rootDir>/test/${root}/**/*.test.ts`),
  ...extra,
});

module.exports = {
  projects: [
    suite('core', ['core']),
    suite('integration', ['integration'], { testTimeout: 30000 }),
    suite('faults', ['faults'], { testTimeout: 60000 }),
  ],
};
