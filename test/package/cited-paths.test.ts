/**
 * Every repository path that a comment, a doc or a script cites exists: a
 * file that moves takes its citations along, or this test names them.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');

/** Folders whose files cite paths, and the top-level files that do. */
const CITING = ['src', 'test', 'bench', 'lab', 'scripts', '.ci', 'native', 'docs'];
const CITING_FILES = ['README.md', 'CHANGELOG.md', 'binding.gyp', 'package.json', 'jest.config.js'];
/** Made at test or build time and ignored by git. */
const GENERATED = ['test/integration/generated'];

const CITATION = /(?<![\w./-])((?:src|test|docs|bench|native|scripts|lab|\.ci|prebuilds)\/[\w./*-]*[\w*])/g;

function files(directory: string): string[] {
  return fs.readdirSync(path.join(root, directory), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.join(directory, entry.name);
    if (entry.name === 'node_modules' || entry.name === 'generated') return [];
    if (entry.isDirectory()) return files(relative);
    return /\.(ts|js|mjs|cjs|c|cc|h|sh|md|json|py)$|^run$/.test(entry.name) ? [relative] : [];
  });
}

/** Git's list when there is one (the lint of a plain copy falls back to the folder). */
function tracked(): Set<string> | undefined {
  try {
    return new Set(execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' }).split('\n'));
  } catch {
    return undefined;
  }
}

function exists(cited: string): boolean {
  if (GENERATED.some((prefix) => cited.startsWith(prefix)) || cited.includes('**')) return true; // a glob over folders
  const pattern = cited.includes('*') ? new RegExp(`^${cited.replace(/[.]/g, '\\.').replace(/\*/g, '[^/]*')}$`) : undefined;
  const bases = [root, path.join(root, 'src')]; // a path under src/ may be cited as its room does (native/addon.d.ts)
  return bases.some((base) => {
    if (pattern !== undefined) {
      const directory = path.join(base, path.dirname(cited));
      return fs.existsSync(directory) && fs.readdirSync(directory).some((name) => pattern.test(`${path.dirname(cited)}/${name}`));
    }
    const full = path.join(base, cited);
    // A module cited without its extension, or a prefix of test files (test/reliability/many-connections).
    return ['', '.ts', '.js', '.test.ts'].some((suffix) => fs.existsSync(full + suffix));
  });
}

test('every path cited in code, tests, scripts and docs exists in the repository', () => {
  const known = tracked();
  const citing = [...CITING.flatMap(files), ...CITING_FILES].filter((file) => known === undefined || known.has(file));
  const missing: string[] = [];
  for (const file of citing) {
    const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n');
    lines.forEach((line, index) => {
      for (const match of line.matchAll(CITATION)) {
        const cited = match[1]!.replace(/[.]+$/, '');
        if (!exists(cited)) missing.push(`${file}:${index + 1}: ${cited}`);
      }
    });
  }
  expect(missing).toEqual([]);
});
