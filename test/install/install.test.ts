/**
 * The package as npm packs and installs it. `npm pack` runs in a copy of the
 * sources (its prepack step empties dist/ and rebuilds it, which must not
 * happen under other tests' feet), then:
 * - the tarball holds the library and nothing else, and its package.json is a
 *   consumer's: no lifecycle scripts, no devDependencies;
 * - a consumer's `npm install` prints nothing but npm's own count (no install
 *   script runs, so npm has none to warn about);
 * - installed without prebuilds, with no compiler, make or Python on PATH, the
 *   library runs on Node's own setKeepAlive, says so and how to build in
 *   `capabilities.reason`, applies what that can (read from outside the process)
 *   and refuses the rest with a coded error;
 * - installed with a prebuild that cannot load, the documented source build
 *   (`npx node-gyp rebuild` in the installed package) is what then runs;
 * - `npm install` in a fresh clone of the repository changes no tracked file
 *   (package-lock.json included) and warns about no install script.
 * Slow (three npm installs and one node-gyp build): its own jest project, `npm run test:package`.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kernelReader } from '../helpers/independent-kernel';

jest.setTimeout(300_000);

const root = path.join(__dirname, '..', '..');
let scratch: string;
let tarball: string;
let packedFiles: string[];

/** The environment of a user's shell: none of the npm_* variables an outer `npm test` sets. */
function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(name) && name !== 'INIT_CWD' && name !== 'TCP_KEEPALIVE') env[name] = value;
  }
  return { ...env, ...extra };
}

function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): { status: number | null; stdout: string; out: string } {
  const result = spawnSync(command, args, { ...options, encoding: 'utf8', timeout: 240_000, maxBuffer: 64 * 1024 * 1024 });
  return {
    status: result.status,
    stdout: result.stdout ?? '',
    out: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}`,
  };
}

/** A tarball like `tarball` with `change` applied to its unpacked `package/` folder. */
function repack(name: string, change: (packageDir: string) => void): string {
  const dir = fs.mkdtempSync(path.join(scratch, `${name}-`));
  execFileSync('tar', ['-xzf', tarball, '-C', dir]);
  change(path.join(dir, 'package'));
  const out = path.join(scratch, `${name}.tgz`);
  execFileSync('tar', ['-czf', out, '-C', dir, 'package']);
  return out;
}

/**
 * npm's output for an install that ran no script of ours: its count line only ("added 3 packages in 2s").
 * Anything else (a warning about install scripts, a build's output) is unexpected for a consumer.
 */
function unexpectedOutput(out: string): string[] {
  return out
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^(added|changed|removed) \d+ packages? in [\d.]+m?s$|^up to date/.test(line));
}

/** A new project folder with the tarball installed by `npm install`, as a user would. */
function install(name: string, tgz: string, env: NodeJS.ProcessEnv): { status: number | null; out: string; project: string } {
  const project = fs.mkdtempSync(path.join(scratch, `${name}-project-`));
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: `${name}-project`, version: '1.0.0', private: true }));
  const npm = ['install', tgz, '--foreground-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--no-package-lock'];
  return { ...run('npm', npm, { cwd: project, env }), project };
}

beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpka-package-'));
  const source = path.join(scratch, 'source');
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter((file) => file !== '' && fs.existsSync(path.join(root, file)));
  for (const file of files) {
    fs.mkdirSync(path.dirname(path.join(source, file)), { recursive: true });
    fs.copyFileSync(path.join(root, file), path.join(source, file));
  }
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(source, 'node_modules'), 'dir');
  const packed = run('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: source, env: userEnv() });
  if (packed.status !== 0) throw new Error(`npm pack failed:\n${packed.out}`);
  // The build's own output (prepare) precedes npm's JSON report on stdout.
  const report = JSON.parse(packed.stdout.slice(packed.stdout.lastIndexOf('\n[\n') + 1)) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  tarball = path.join(scratch, report[0]!.filename);
  packedFiles = report[0]!.files.map((file) => file.path).sort();
});

afterAll(() => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe('the tarball', () => {
  test('holds the library and nothing else', () => {
    const outside = packedFiles.filter(
      (file) =>
        !/^(dist|native|prebuilds)\//.test(file) && !['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'binding.gyp'].includes(file),
    );
    expect(outside).toEqual([]);
    expect(packedFiles).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'CHANGELOG.md',
        'README.md',
        'binding.gyp',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/planner/index.js',
        'dist/integrations/index.js',
        'prebuilds/linux-x64/tcp-keepalive.node',
      ]),
    );
    // No fault lab, demo, tests or source maps pointing at sources that are not shipped.
    expect(packedFiles.filter((file) => /lab|demo|test|\.map$|\.tsbuildinfo$/.test(file))).toEqual([]);
  });

  test("its package.json is a consumer's: no lifecycle scripts (prepare, install…), no devDependencies, no implied node-gyp build", () => {
    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' })) as Record<
      string,
      unknown
    >;
    expect({
      scripts: manifest.scripts,
      devDependencies: manifest.devDependencies,
      allowScripts: manifest.allowScripts,
      gypfile: manifest.gypfile,
    }).toEqual({ scripts: undefined, devDependencies: undefined, allowScripts: undefined, gypfile: false });
    expect(manifest).toMatchObject({ name: 'tcp-keepalive', bin: { 'tcp-keepalive': './dist/cli/main.js' } });
    // The repository's own manifest is back in place after packing.
    const source = JSON.parse(fs.readFileSync(path.join(scratch, 'source', 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(source.scripts.prepare).toBe('npm run build');
    expect(fs.existsSync(path.join(scratch, 'source', '.package.json.repository'))).toBe(false);
  });

  test('every dist file comes from a current source file (prepack empties dist/ first)', () => {
    const sources = new Set(
      execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'src'], { cwd: root, encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
        .map((file) => file.replace(/^src\//, '').replace(/(\.d)?\.ts$/, '')),
    );
    const orphans = packedFiles
      .filter((file) => file.startsWith('dist/'))
      .map((file) => file.replace(/^dist\//, '').replace(/(\.d\.ts|\.js)$/, ''))
      .filter((stem) => !sources.has(stem));
    expect(orphans).toEqual([]);
  });
});

describe('installing', () => {
  test("a consumer install prints nothing but npm's count, and the prebuild is what runs", () => {
    // No --foreground-scripts here: exactly what a user sees. (The other installs below add it, so that any
    // script output would show there too.)
    const project = fs.mkdtempSync(path.join(scratch, 'consumer-project-'));
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer-project', version: '1.0.0', private: true }));
    const result = run('npm', ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline'], { cwd: project, env: userEnv() });
    expect({ status: result.status, unexpected: unexpectedOutput(result.out) }).toEqual({ status: 0, unexpected: [] });
    const out = execFileSync(process.execPath, ['-p', "require('tcp-keepalive').capabilities.strategy"], {
      cwd: project,
      env: userEnv(),
      encoding: 'utf8',
    });
    expect(out.trim()).toBe('setsockopt');
  });

  test("without a matching prebuild and without a compiler: installs silently, and the library runs on Node's setKeepAlive and says how to build", async () => {
    const noPrebuilds = repack('no-prebuilds', (dir) => fs.rmSync(path.join(dir, 'prebuilds'), { recursive: true }));
    // One PATH directory with the system's tools, node and npm, but no C or C++ compiler, make or Python.
    const bin = fs.mkdtempSync(path.join(scratch, 'bin-'));
    const toolchain = /^(cc|c\+\+|c89|c99|cpp.*|gcc.*|g\+\+.*|.*-(gcc|g\+\+|cc|c\+\+)(-[\d.]+)?|clang.*|tcc|zig|make|gmake|python.*)$/;
    for (const dir of ['/usr/local/bin', '/usr/bin', '/bin']) {
      for (const tool of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
        if (!toolchain.test(tool) && !fs.existsSync(path.join(bin, tool))) fs.symlinkSync(path.join(dir, tool), path.join(bin, tool));
      }
    }
    for (const tool of ['node', 'npm']) {
      const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      fs.rmSync(path.join(bin, tool), { force: true });
      fs.symlinkSync(fs.realpathSync(found), path.join(bin, tool));
    }
    // Python stays when there is one, so that node-gyp gets as far as it can: configure, then no make and no compiler.
    const python = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).stdout?.trim();
    if (python) fs.symlinkSync(python, path.join(bin, 'python3'));
    for (const tool of ['cc', 'c++', 'gcc', 'g++', 'make']) {
      expect([tool, spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { encoding: 'utf8', env: { PATH: bin } }).stdout]).toEqual([
        tool,
        '',
      ]);
    }
    const env = userEnv({ PATH: bin });
    const result = install('no-toolchain', noPrebuilds, env);
    expect({ status: result.status, unexpected: unexpectedOutput(result.out) }).toEqual({ status: 0, unexpected: [] });
    expect(fs.existsSync(path.join(result.project, 'node_modules', 'tcp-keepalive', 'build', 'Release', 'tcp_keepalive.node'))).toBe(false);

    // The library, from the installed project: what it says and what it does.
    const child = spawn(
      process.execPath,
      [
        '-e',
        `
      const net = require('node:net');
      const { capabilities, configureKeepalive } = require('tcp-keepalive');
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const socket = net.connect(server.address().port, '127.0.0.1', () => {
          configureKeepalive(socket, { idle: 42_000 });
          let refusal;
          try { configureKeepalive(socket, { userTimeout: 10_000 }); } catch (error) { refusal = { code: error.code, message: error.message }; }
          const addons = Object.keys(require.cache).filter((file) => file.endsWith('.node'));
          console.log(JSON.stringify({ pid: process.pid, fd: socket._handle.fd, strategy: capabilities.strategy, reason: capabilities.reason, userTimeout: capabilities.userTimeout, refusal, addons }));
          process.stdin.on('end', () => process.exit(0)).resume();
        });
      });
    `,
      ],
      { cwd: result.project, env, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const report = await firstLine(child);
    try {
      expect(report).toMatchObject({ strategy: 'node-setKeepAlive', userTimeout: false, addons: [] });
      expect(report.reason).toMatch(/npx node-gyp rebuild/);
      expect(report.refusal).toMatchObject({ code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' });
      expect((report.refusal as { message: string }).message).toMatch(/userTimeout/);
      const reader = kernelReader();
      if ('unavailable' in reader) throw new Error(`cannot read the kernel from outside: ${reader.unavailable}`);
      const kernel = JSON.parse(execFileSync(reader.binary, [String(report.pid), String(report.fd)], { encoding: 'utf8' })) as {
        enabled: number;
        idle: number;
      };
      expect({ enabled: kernel.enabled, idle: kernel.idle }).toEqual({ enabled: 1, idle: 42 });
    } finally {
      child.stdin.end();
      child.kill();
    }
  });

  test('with a prebuild that fails to load: the install prints nothing, and the documented source build is what runs', () => {
    const corrupt = repack('corrupt-prebuild', (dir) => {
      for (const platform of fs.readdirSync(path.join(dir, 'prebuilds'))) {
        for (const file of fs.readdirSync(path.join(dir, 'prebuilds', platform))) {
          fs.writeFileSync(path.join(dir, 'prebuilds', platform, file), 'not a shared object');
        }
      }
    });
    const result = install('corrupt-prebuild', corrupt, userEnv());
    expect({ status: result.status, unexpected: unexpectedOutput(result.out) }).toEqual({ status: 0, unexpected: [] });
    const installed = path.join(result.project, 'node_modules', 'tcp-keepalive');
    const built = path.join(installed, 'build', 'Release', 'tcp_keepalive.node');
    expect(fs.existsSync(built)).toBe(false);
    // `npx node-gyp rebuild` in the installed package, as capabilities.reason and the README say (--prefer-offline:
    // node-gyp is in npm's cache as a development dependency of this repository).
    const build = run('npx', ['--yes', '--prefer-offline', 'node-gyp', 'rebuild'], { cwd: installed, env: userEnv() });
    expect({ status: build.status, out: build.status === 0 ? '' : build.out }).toEqual({ status: 0, out: '' });
    expect(fs.existsSync(built)).toBe(true);
    const out = execFileSync(
      process.execPath,
      [
        '-e',
        `
      const net = require('node:net');
      const { capabilities, configureKeepalive, getKeepalive } = require('tcp-keepalive');
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const socket = net.connect(server.address().port, '127.0.0.1', () => {
          configureKeepalive(socket, { idle: 42_000, interval: 7_000, count: 4, userTimeout: 70_000 });
          const addons = Object.keys(require.cache).filter((file) => file.endsWith('.node'));
          console.log(JSON.stringify({ strategy: capabilities.strategy, state: getKeepalive(socket), addons }));
          socket.destroy(); server.close();
        });
      });
    `,
      ],
      { cwd: result.project, env: userEnv(), encoding: 'utf8', timeout: 30_000 },
    );
    const report = JSON.parse(out) as { strategy: string; state: object; addons: string[] };
    expect(report).toMatchObject({ strategy: 'setsockopt', state: { idle: 42_000, interval: 7_000, count: 4, userTimeout: 70_000 } });
    expect(report.addons.map((file) => fs.realpathSync(file))).toEqual([fs.realpathSync(built)]);
  });
});

describe('a clone of the repository', () => {
  test('`npm install` changes no tracked file (package-lock.json included) and warns about no install script', () => {
    const clone = path.join(scratch, 'clone');
    execFileSync('git', ['clone', '--quiet', root, clone], { timeout: 60_000 });
    const result = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], {
      cwd: clone,
      env: userEnv(),
      encoding: 'utf8',
      timeout: 280_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const out = `${result.stdout ?? ''}${result.stderr ?? ''}`;
    expect({ status: result.status, error: result.error?.message }).toEqual({ status: 0, error: undefined });
    expect(out.split('\n').filter((line) => /install-scripts|allow-scripts/.test(line))).toEqual([]);
    // Tracked files unchanged; the build's output (dist/, lab-dist/) and node_modules are ignored by git.
    expect(execFileSync('git', ['status', '--porcelain'], { cwd: clone, encoding: 'utf8' })).toBe('');
    expect(fs.existsSync(path.join(clone, 'dist', 'index.js'))).toBe(true);
  });
});

function firstLine(child: ChildProcessWithoutNullStreams): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no report within 30 s: ${out}${err}`)), 30_000);
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
    });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const newline = out.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.slice(0, newline)) as Record<string, unknown>);
      } catch (error) {
        reject(new Error(`unreadable report: ${out}${err} (${String(error)})`));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before reporting: ${out}${err}`));
    });
  });
}
