// ESLint (flat config): the recommended JavaScript and typescript-eslint rules, without
// type information (fast enough for every commit; `tsc --noEmit` in `npm run lint` does the
// type checking). Formatting is Prettier's job (.prettierrc.json), not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The `globals` package is not a dependency; these are the names the plain-JS files use.
const nodeGlobals = Object.fromEntries(
  [
    'require',
    'module',
    'exports',
    '__dirname',
    '__filename',
    'process',
    'console',
    'Buffer',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'clearImmediate',
    'queueMicrotask',
    'globalThis',
    'URL',
    'TextDecoder',
    'TextEncoder',
    'AbortController',
    'performance',
    'structuredClone',
    'fetch',
    'gc',
    'BigInt',
  ].map((name) => [name, 'readonly']),
);

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'lab-dist/',
      'build/',
      'coverage/',
      'node_modules/',
      'prebuilds/',
      '.bench-tmp/',
      '.tmp-consumer-*/',
      'test/integration/generated/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // `_`-prefixed names are deliberately unused (callback signatures, destructuring to omit a field).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Empty catch blocks say "this failure is expected"; the code comments each one.
      'no-empty': ['error', { allowEmptyCatch: true }],
      // The library compiles to CommonJS and loads some modules on first use with require() (node:net, the
      // planner, the addon) so that importing it stays cheap; `import x = require()` cannot be lazy.
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: nodeGlobals },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: nodeGlobals },
  },
  {
    // Tests match terminal output, escape codes included.
    files: ['test/**/*.ts'],
    rules: { 'no-control-regex': 'off' },
  },
);
