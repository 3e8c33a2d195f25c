/**
 * Every fenced code block of README.md runs as written, against the built package and the local services
 * (PostgreSQL 5432, MariaDB 3306, Redis 6379, RabbitMQ 5672, Mosquitto 1883, NATS 4222).
 *
 * The block's info string says what it is, and how it is checked:
 *
 * - `ts`, `typescript`, `js`, `javascript`: a program. It is written to a scratch project whose
 *   node_modules holds this package (tcp-keepalive, as built in dist/), with the repository's other
 *   packages (client libraries, @opentelemetry/api) found through NODE_PATH. TypeScript is transpiled
 *   as written (ts.transpileModule to CommonJS, esModuleInterop), then run by `node` in a fresh
 *   process. It must exit 0 by itself within the time limit: a block that leaves a connection open
 *   never exits, and fails.
 * - `text`: what the reader sees (output, a transcript, a table); never run. A `text` block that comes
 *   right after a program block (only blank lines between them) is that program's output, and must be
 *   exactly what the program printed.
 * - `sh`: shell commands, one per line, each run by bash in the scratch project, where `app.js` is a
 *   small client of the local Redis that prints what the kernel holds for its socket and fails when
 *   keepalive is off: `node app.js` under an environment then shows that the environment configured it.
 *   Two kinds of line are checked instead of run, because a scratch project cannot run them:
 *   - `npm install tcp-keepalive`: the scratch project has it installed already (the install itself
 *     is test/install/install.test.ts);
 *   - the repository's own commands, run in a clone (`npm install` or `npm ci` with no package,
 *     `npm test`, `npm run <script>`, `rm -rf build`, `npx prebuildify …`, `bash <file> …`): the
 *     script, package or file must exist here. They are the suites, builds and benchmarks themselves.
 *
 * Any other info string, or none, fails: a new block must say which of these it is.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { assertBuilt, describeWhen, serviceUp } from './support';

jest.setTimeout(120_000);

const root = path.join(__dirname, '..', '..');
const README = path.join(root, 'README.md');
/** A program block's time limit: the slowest (two clients connecting and closing) takes well under 2 s. */
const PROGRAM_LIMIT_MS = 30_000;

export interface Block {
  /** 1-based line of the opening fence. */
  line: number;
  info: string;
  code: string;
  /** The heading the block is under, for the test's name. */
  heading: string;
  /** Only blank lines between this block's opening fence and the end of the block before it. */
  followsBlock: boolean;
}

/** The fenced blocks of a Markdown text (``` or ~~~ fences, also indented in list items). */
export function fencedBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  let heading = '(top)';
  let lastEnd: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^`\s]*).*$/.exec(lines[i]!);
    if (open === null) {
      const title = /^#{1,6}\s+(.*)$/.exec(lines[i]!);
      if (title) heading = title[1]!;
      continue;
    }
    const [, indent, fence, info] = open as unknown as [string, string, string, string];
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = new RegExp(`^\\s*${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`).exec(lines[j]!);
      if (close) break;
      body.push(lines[j]!.startsWith(indent) ? lines[j]!.slice(indent.length) : lines[j]!.trimStart());
    }
    if (j === lines.length) throw new Error(`README.md:${i + 1}: the code block is never closed`);
    const followsBlock = lastEnd !== undefined && lines.slice(lastEnd + 1, i).every((text) => text.trim() === '');
    blocks.push({ line: i + 1, info, code: `${body.join('\n')}\n`, heading, followsBlock });
    lastEnd = j;
    i = j;
  }
  return blocks;
}

const PROGRAM = new Set(['ts', 'typescript', 'js', 'javascript']);
const KINDS = new Set([...PROGRAM, 'text', 'sh']);

const blocks = fencedBlocks(fs.readFileSync(README, 'utf8'));
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  name: string;
  scripts: Record<string, string>;
  devDependencies: Record<string, string>;
};
const name = (block: Block) => `README.md:${block.line} (${block.info || 'no info string'}, under "${block.heading}")`;

test('README has program, output and shell blocks, and every block says which it is', () => {
  expect(blocks.filter((block) => !KINDS.has(block.info)).map(name)).toEqual([]);
  expect(blocks.filter((block) => PROGRAM.has(block.info)).length).toBeGreaterThanOrEqual(5);
  expect(blocks.filter((block) => block.info === 'sh').length).toBeGreaterThanOrEqual(3);
});

test('the block reader: fences, indented fences, info strings and what follows what', () => {
  const sample = ['# A', '```ts', 'one();', '```', '', '```text', 'out', '```', 'prose', '1. item', '   ```sh', '   ls -l', '   ```'].join(
    '\n',
  );
  expect(fencedBlocks(sample)).toEqual([
    { line: 2, info: 'ts', code: 'one();\n', heading: 'A', followsBlock: false },
    { line: 6, info: 'text', code: 'out\n', heading: 'A', followsBlock: true },
    { line: 11, info: 'sh', code: 'ls -l\n', heading: 'A', followsBlock: false },
  ]);
});

const SERVICES: ReadonlyArray<[string, number]> = [
  ['PostgreSQL', 5432],
  ['MariaDB', 3306],
  ['Redis', 6379],
  ['RabbitMQ', 5672],
  ['Mosquitto', 1883],
  ['NATS', 4222],
];
const down = SERVICES.filter(([, port]) => !serviceUp(port)).map(([service, port]) => `${service} (${port})`);
const missing = down.length === 0 ? undefined : `not answering on 127.0.0.1: ${down.join(', ')} (.ci/services.sh starts them)`;

describeWhen('README code blocks, run as written', missing, () => {
  let scratch: string;

  beforeAll(() => {
    assertBuilt();
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpka-readme-'));
    fs.mkdirSync(path.join(scratch, 'node_modules'));
    fs.symlinkSync(root, path.join(scratch, 'node_modules', 'tcp-keepalive'), 'dir');
    fs.writeFileSync(path.join(scratch, 'package.json'), JSON.stringify({ name: 'readme-project', version: '1.0.0', private: true }));
    // The application of the zero-code line: a Redis client that says what the kernel holds for its socket.
    fs.writeFileSync(
      path.join(scratch, 'app.js'),
      `'use strict';
const net = require('node:net');
const { getKeepalive } = require('tcp-keepalive');
const socket = net.connect(6379, '127.0.0.1', () => {
  const state = getKeepalive(socket);
  console.log(JSON.stringify(state));
  socket.end();
  if (!state.enable) process.exitCode = 1;
});
`,
    );
  });

  afterAll(() => {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  const env = (): NodeJS.ProcessEnv => ({ ...process.env, NODE_PATH: path.join(root, 'node_modules') });

  function runProgram(block: Block): { status: number | null; signal: string | null; stdout: string; stderr: string } {
    const typescript = block.info === 'ts' || block.info === 'typescript';
    const source = typescript
      ? ts.transpileModule(block.code, {
          compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
        }).outputText
      : block.code;
    const file = path.join(scratch, `block-${block.line}.js`);
    fs.writeFileSync(file, source);
    const result = spawnSync(process.execPath, [file], { cwd: scratch, env: env(), encoding: 'utf8', timeout: PROGRAM_LIMIT_MS });
    return { status: result.status, signal: result.signal, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
  }

  const programs = blocks.filter((block) => PROGRAM.has(block.info));
  test.each(programs.map((block) => [name(block), block] as const))('%s runs and exits by itself', (_name, block) => {
    const result = runProgram(block);
    expect({ status: result.status, signal: result.signal, stderr: result.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    const next = blocks[blocks.indexOf(block) + 1];
    if (next !== undefined && next.info === 'text' && next.followsBlock) expect(result.stdout).toBe(next.code);
  });

  /** Why a shell line is checked rather than run, or undefined to run it. */
  function notRunHere(command: string): string | undefined {
    const words = command.split(/\s+/);
    if (/^npm (install|i) tcp-keepalive$/.test(command)) {
      expect(manifest.name).toBe('tcp-keepalive');
      return 'installed in the scratch project';
    }
    if (/^npm (install|ci|test)$/.test(command)) return 'a repository command';
    if (words[0] === 'npm' && words[1] === 'run') {
      expect([command, manifest.scripts[words[2]!] !== undefined]).toEqual([command, true]);
      return 'a repository script';
    }
    if (command === 'rm -rf build') return 'a repository command';
    if (words[0] === 'npx' && words[1] === 'prebuildify') {
      expect(manifest.devDependencies.prebuildify).toBeDefined();
      return 'a repository build';
    }
    if (words[0] === 'bash') {
      expect([command, fs.existsSync(path.join(root, words[1]!))]).toEqual([command, true]);
      return 'a repository script';
    }
    return undefined;
  }

  const shells = blocks.filter((block) => block.info === 'sh');
  test.each(shells.map((block) => [name(block), block] as const))('%s: each command runs, or names what exists here', (_name, block) => {
    const commands = block.code
      .split('\n')
      .map((line) => line.replace(/\s+#.*$/, '').trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    expect(commands.length).toBeGreaterThan(0);
    for (const command of commands.flatMap((line) => line.split(/\s+&&\s+/))) {
      if (notRunHere(command) !== undefined) continue;
      const result = spawnSync('bash', ['-c', command], { cwd: scratch, env: env(), encoding: 'utf8', timeout: PROGRAM_LIMIT_MS });
      expect({ command, status: result.status, stderr: result.stderr }).toEqual({ command, status: 0, stderr: '' });
    }
  });
});
