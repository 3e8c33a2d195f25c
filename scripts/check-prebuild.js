'use strict';
// Checks a prebuilt addon without loading it (it may be for another OS or CPU):
// its object format and CPU, that it imports only N-API and libc (and for musl no
// glibc symbol versions), that it exports the N-API module entry point, and that
// it carries the source hash of the current native/ sources.
//
//   node scripts/check-prebuild.js [target...]   (linux-x64-musl linux-arm64-musl darwin-x64 darwin-arm64 linux-x64 linux-arm64)
// Uses llvm-readobj / llvm-nm (Debian: llvm, or clang's llvm-14 tools) for Mach-O and ELF alike.
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { nativeSourceHash } = require('../native/source-hash');

const root = path.join(__dirname, '..');
const TARGETS = {
  'linux-x64': { file: 'prebuilds/linux-x64/tcp-keepalive.node', format: 'elf64-x86-64', libc: 'glibc' },
  'linux-arm64': { file: 'prebuilds/linux-arm64/tcp-keepalive.node', format: 'elf64-littleaarch64', libc: 'glibc' },
  'linux-x64-musl': { file: 'prebuilds/linux-x64/tcp-keepalive.musl.node', format: 'elf64-x86-64', libc: 'musl' },
  'linux-arm64-musl': { file: 'prebuilds/linux-arm64/tcp-keepalive.musl.node', format: 'elf64-littleaarch64', libc: 'musl' },
  'darwin-x64': { file: 'prebuilds/darwin-x64/tcp-keepalive.node', format: 'Mach-O 64-bit x86-64', libc: 'darwin' },
  'darwin-arm64': { file: 'prebuilds/darwin-arm64/tcp-keepalive.node', format: 'Mach-O arm64', libc: 'darwin' },
};

// What an addon may import besides N-API: the C library and, for glibc builds, C++'s operator new and
// delete from libstdc++ (node-addon-api allocates with them: the per-environment outputs, a
// Napi::CallbackInfo for more than six arguments; docs/platforms.md, "The native addon"). The musl and
// macOS builds carry that part of libc++ inside. Anything else means a dependency the user's system may
// not have.
const LIBC = new Set(
  (
    '__errno_location __error abort aligned_alloc calloc close dl_iterate_phdr dladdr fflush fprintf fputc free fwrite ' +
    'getsockopt setsockopt getsockname getpeername isxdigit malloc memchr memcpy memmove memset memcmp posix_memalign realloc snprintf ' +
    'stderr __stderrp strcmp strlen strncmp syscall vfprintf fcntl ioctl getpid strerror strerror_r ' +
    'pthread_getspecific pthread_key_create pthread_mutex_lock pthread_mutex_unlock pthread_once pthread_rwlock_rdlock ' +
    'pthread_rwlock_unlock pthread_rwlock_wrlock pthread_setspecific dyld_stub_binder _tlv_bootstrap __cxa_finalize ' +
    '__cxa_atexit __stack_chk_fail __stack_chk_guard __memcpy_chk __snprintf_chk __vfprintf_chk __fprintf_chk bzero __bzero ' +
    '_ITM_deregisterTMCloneTable _ITM_registerTMCloneTable __gmon_start__ sysconf ' +
    'vsnprintf fputs puts write'
  ).split(/\s+/),
);

function tool(names) {
  for (const name of names) if (spawnSync('sh', ['-c', `command -v ${name}`]).status === 0) return name;
  throw new Error(`none of ${names.join(', ')} is installed (apt-get install llvm)`);
}
const readobj = tool(['llvm-readobj', 'llvm-readobj-14', 'llvm-readobj-15', 'llvm-readobj-16']);
const nm = tool(['llvm-nm', 'llvm-nm-14', 'llvm-nm-15', 'llvm-nm-16']);
const run = (command, args) => execFileSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

function check(name) {
  const target = TARGETS[name];
  if (!target) throw new Error(`unknown target ${name}`);
  const file = path.join(root, target.file);
  const problems = [];
  if (!fs.existsSync(file)) return { name, file: target.file, problems: ['missing'] };
  const header = run(readobj, ['--file-headers', file]);
  const format = /Format: (.+)/.exec(header)?.[1]?.trim();
  if (format !== target.format) problems.push(`format ${format}, expected ${target.format}`);
  const strip = (symbol) => symbol.replace(/^_(?=napi_|node_api_|_?[a-z])/, ''); // Mach-O prefixes C symbols with _
  const undefinedSymbols = run(nm, ['--undefined-only', ...(target.libc === 'darwin' ? [] : ['--dynamic']), file])
    .split('\n')
    .map((line) => line.trim().split(/\s+/).pop())
    .filter(Boolean);
  const imports = undefinedSymbols.map((symbol) => symbol.replace(/@.*/, ''));
  const versions = undefinedSymbols.filter((symbol) => symbol.includes('@')).map((symbol) => symbol.replace(/^[^@]*@+/, ''));
  const cxxRuntime = (symbol) => target.libc === 'glibc' && /^(_Zn[wa]m|_Zd[la]Pvm?|__cxa_pure_virtual)$/.test(symbol);
  // Mach-O records where each import comes from: libSystem (Apple's libc), or looked up at load time (N-API, from node).
  const unexpected =
    target.libc === 'darwin'
      ? run(nm, ['-m', '--undefined-only', file])
          .split('\n')
          .filter((line) => line.trim() !== '')
          .filter((line) => !/\(from libSystem\)$/.test(line) && !/ _(napi|node_api)_\w+ \(dynamically looked up\)$/.test(line))
          .map((line) => line.trim().split(/\s+/)[2])
      : imports.filter(
          (symbol) => !/^napi_|^node_api_/.test(strip(symbol)) && !LIBC.has(strip(symbol)) && !LIBC.has(symbol) && !cxxRuntime(symbol),
        );
  if (unexpected.length) problems.push(`imports outside N-API and libc: ${unexpected.join(' ')}`);
  if (target.libc === 'musl' && versions.some((version) => version.startsWith('GLIBC')))
    problems.push(`glibc symbol versions in a musl build: ${versions.join(' ')}`);
  const defined = run(nm, ['--defined-only', '--extern-only', ...(target.libc === 'darwin' ? [] : ['--dynamic']), file])
    .split('\n')
    .map((line) => line.trim().split(/\s+/).pop())
    .filter(Boolean)
    .map(strip);
  if (!defined.includes('napi_register_module_v1')) problems.push('no napi_register_module_v1 export');
  const needed = run(readobj, ['--needed-libs', file]);
  // (llvm-readobj lists a Mach-O dylib's own install name among them: not a dependency.)
  const libraries = [...needed.matchAll(/^\s+(\S+\.(?:so[.\d]*|dylib))\s*$/gm)].map((match) => match[1]);
  const allowed = {
    glibc: /^(libc\.so\.6|libstdc\+\+\.so\.6)$/,
    musl: /^libc\.so$/,
    darwin: /^\/usr\/lib\/libSystem\.B\.dylib$/,
  }[target.libc];
  const otherLibraries = libraries.filter((library) => !allowed.test(library));
  if (otherLibraries.length) problems.push(`links libraries beyond libc: ${otherLibraries.join(' ')}`);
  const hash = nativeSourceHash();
  if (!fs.readFileSync(file).includes(Buffer.from(hash))) problems.push(`does not carry the source hash ${hash} of native/ (stale build)`);
  return {
    name,
    file: target.file,
    format,
    libraries,
    imports: imports.length,
    glibcVersions: versions.filter((v) => v.startsWith('GLIBC')),
    problems,
  };
}

function newestVersion(versions) {
  const parts = (version) =>
    version
      .replace(/^GLIBC_/, '')
      .split('.')
      .map(Number);
  return [...new Set(versions)]
    .sort((a, b) => {
      const [x, y] = [parts(a), parts(b)];
      for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
      return 0;
    })
    .pop();
}

const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(TARGETS);
let failed = false;
for (const name of names) {
  const result = check(name);
  failed ||= result.problems.length > 0;
  console.log(
    `${result.problems.length ? 'FAIL' : 'ok  '} ${result.name.padEnd(17)} ${result.file}: ${result.format ?? ''}; ` +
      `needs ${(result.libraries ?? []).join(', ') || 'nothing'}; ${result.imports ?? 0} imports` +
      `${result.glibcVersions?.length ? ` (newest ${newestVersion(result.glibcVersions)})` : ''}${result.problems.length ? `\n     ${result.problems.join('\n     ')}` : ''}`,
  );
}
process.exit(failed ? 1 : 0);
