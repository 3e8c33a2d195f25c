/**
 * The floors hold: src/core (configure, read back, the kernel timer model)
 * imports nothing above it — only itself, the native addon's loader below it,
 * Node's built-ins and node-gyp-build. Type-only imports count too: a type
 * from above is a dependency on above. The dead channel's watch reaches the
 * core by registration (registerDeathWatch), never by import.
 */
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

const src = path.resolve(__dirname, '..', '..', 'src');

/** Every module specifier in a TypeScript file: import/export … from, bare import, require(), import(). */
function specifiers(text: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^'"]*?\sfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) found.push(match[1]!);
  return found;
}

function filesUnder(directory: string): string[] {
  return fs.readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name);
    return entry.isDirectory() ? filesUnder(full) : entry.name.endsWith('.ts') ? [full] : [];
  });
}

const allowedBelow = [path.join(src, 'core'), path.join(src, 'native')];
const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

test('the specifier parser finds every form of import', () => {
  const text = [
    "import a from './a';",
    "import type { B } from '../health/b';",
    "export { c } from '../health/c';",
    "import './d';",
    "const e = require('../health/e');",
    "type F = typeof import('../health/f');",
    "import {\n  g,\n  h,\n} from '../health/g';",
  ].join('\n');
  expect(specifiers(text).sort()).toEqual(['../health/b', '../health/c', '../health/e', '../health/f', '../health/g', './a', './d'].sort());
});

test('src/core imports nothing from above it (health, planner, integrations, register, cli)', () => {
  const offending: string[] = [];
  const files = filesUnder(path.join(src, 'core'));
  expect(files.length).toBeGreaterThan(3);
  for (const file of files) {
    for (const specifier of specifiers(fs.readFileSync(file, 'utf8'))) {
      if (specifier.startsWith('.')) {
        const target = path.resolve(path.dirname(file), specifier);
        if (!allowedBelow.some((floor) => target === floor || target.startsWith(floor + path.sep))) {
          offending.push(`${path.relative(src, file)} imports ${specifier}`);
        }
      } else if (!builtins.has(specifier) && specifier !== 'node-gyp-build') {
        offending.push(`${path.relative(src, file)} imports ${specifier}`);
      }
    }
  }
  expect(offending).toEqual([]);
});
