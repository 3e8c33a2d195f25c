/**
 * README.md is also the npm page, where a link relative to the repository does
 * not resolve: links point into the repository absolutely or to a heading of the
 * README itself. The docs are read in the repository, so their relative links
 * must resolve there. Neither speaks of the project's internal process.
 */
import fs from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const REPOSITORY = 'https://github.com/tcp-keepalive/tcp-keepalive';
const BLOB = `${REPOSITORY}/blob/main/`;

// Read from the folder, not from git: CI also runs this suite in plain copies of the repository.
const docs = fs
  .readdirSync(path.join(root, 'docs'))
  .filter((file) => file.endsWith('.md'))
  .map((file) => `docs/${file}`);

/** Markdown links outside code blocks and code spans: [text](target). */
function links(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((match) => match[1]!);
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  const prose = markdown.replace(/```[\s\S]*?```/g, '');
  for (const match of prose.matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = match[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

const INTERNAL = [/\bthe seed\b/i, /\bseed's\b/i, /\bthe issue'?s?\b/i, /<!--/, /\/tmp\//, /\bresearch(-\d)?\.md\b/, /\bfault-lab\.md\b/];

test('README: every link is absolute (into the repository, at a file that exists) or to one of its own headings', () => {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const own = anchors(readme);
  const broken = links(readme).filter((target) => {
    if (target.startsWith('#')) return !own.has(target.slice(1));
    if (target.startsWith(BLOB)) return !fs.existsSync(path.join(root, target.slice(BLOB.length).replace(/#.*/, '')));
    return !/^https?:\/\//.test(target);
  });
  expect(broken).toEqual([]);
});

test('package.json points at the same repository the README links to', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    repository: { url: string };
    homepage: string;
    bugs: { url: string };
  };
  expect(manifest.repository.url).toBe(`git+${REPOSITORY}.git`);
  expect(manifest.homepage).toBe(`${REPOSITORY}#readme`);
  expect(manifest.bugs.url).toBe(`${REPOSITORY}/issues`);
});

test.each(docs)('%s: relative links resolve to files and headings in the repository', (doc) => {
  const text = fs.readFileSync(path.join(root, doc), 'utf8');
  const broken = links(text).filter((target) => {
    if (/^(https?:|mailto:)/.test(target)) return false;
    const [file, anchor] = target.split('#') as [string, string | undefined];
    const resolved = file === '' ? path.join(root, doc) : path.resolve(path.dirname(path.join(root, doc)), file);
    if (!fs.existsSync(resolved)) return true;
    return anchor !== undefined && resolved.endsWith('.md') && !anchors(fs.readFileSync(resolved, 'utf8')).has(anchor);
  });
  expect(broken).toEqual([]);
});

test.each(['README.md', ...docs])('%s speaks to users: no internal words or scratch paths', (file) => {
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  const found = INTERNAL.flatMap((pattern) =>
    text
      .split('\n')
      .filter((line) => pattern.test(line))
      .map((line) => `${pattern}: ${line.trim()}`),
  );
  expect(found).toEqual([]);
});
