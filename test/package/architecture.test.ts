/**
 * The rooms of src/ and who may import whom, as docs/architecture.md's table
 * says: every import in src/ (value or type, static or require()) is checked
 * against it, and the import graph has no circles.
 */
import fs from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const src = path.join(root, 'src');

/** The table in docs/architecture.md: room → the rooms it may import. */
function rulesFromDoc(): Map<string, Set<string>> {
  const doc = fs.readFileSync(path.join(root, 'docs', 'architecture.md'), 'utf8');
  const rules = new Map<string, Set<string>>();
  for (const match of doc.matchAll(/^\| `(\w+)` \| ([^|]+) \|/gm)) {
    const allowed = [...match[2]!.matchAll(/`(\w+)`/g)].map((room) => room[1]!);
    rules.set(match[1]!, new Set(allowed));
  }
  return rules;
}

function sourceFiles(directory: string): string[] {
  return fs.readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The src/ files a file imports: `import … from`, `export … from`, `import('…')`, `require('…')`. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specifiers = [
    ...text.matchAll(/\bfrom\s+'(\.[^']*)'/g),
    ...text.matchAll(/\bimport\(\s*'(\.[^']*)'\s*\)/g),
    ...text.matchAll(/\brequire\(\s*'(\.[^']*)'\s*\)/g),
  ].map((match) => match[1]!);
  return specifiers.flatMap((specifier) => {
    const target = path.resolve(path.dirname(file), specifier);
    const candidates = [`${target}.ts`, `${target}.d.ts`, path.join(target, 'index.ts')];
    const found = candidates.find((candidate) => candidate.startsWith(src + path.sep) && fs.existsSync(candidate));
    return found === undefined ? [] : [found];
  });
}

/** The room of a file: its first folder under src/, or undefined for the entry files in src/ itself. */
function roomOf(file: string): string | undefined {
  const parts = path.relative(src, file).split(path.sep);
  return parts.length > 1 ? parts[0] : undefined;
}

const files = sourceFiles(src);
const graph = new Map(files.map((file) => [file, importsOf(file)]));
const relative = (file: string): string => path.relative(root, file);

test('docs/architecture.md names every room in src/', () => {
  const rooms = fs
    .readdirSync(src, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
  expect(rooms.filter((room) => !rulesFromDoc().has(room))).toEqual([]);
});

test('every import in src/ goes to its own room or one the table allows', () => {
  const rules = rulesFromDoc();
  const crossings: string[] = [];
  for (const [file, imports] of graph) {
    const from = roomOf(file);
    if (from === undefined) continue;
    for (const target of imports) {
      const to = roomOf(target);
      if (to === from) continue;
      if (to === undefined || !rules.get(from)?.has(to))
        crossings.push(`${relative(file)} → ${relative(target)} (${from} → ${to ?? 'src/'})`);
    }
  }
  expect(crossings).toEqual([]);
});

test('the import graph of src/ has no circles', () => {
  const circles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const trail: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    trail.push(file);
    for (const target of graph.get(file) ?? []) {
      if (state.get(target) === 'open') circles.push([...trail.slice(trail.indexOf(target)), target].map(relative).join(' → '));
      else if (!state.has(target)) visit(target);
    }
    trail.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (!state.has(file)) visit(file);
  expect(circles).toEqual([]);
});

test('the checker sees imports of every form', () => {
  // A guard against a checker that finds nothing: these edges exist today.
  const edges = [...graph].flatMap(([file, imports]) => imports.map((target) => `${relative(file)} → ${relative(target)}`));
  expect(edges).toEqual(expect.arrayContaining(['src/cli/main.ts → src/cli/doctor.ts', 'src/index.ts → src/core/keepalive.ts']));
});
