/**
 * Loading the native addon: on first use, never at import, so that code
 * which needs no addon (the planner, the error classes, type imports) loads
 * under `--no-addons` or a permission model without `--allow-addons`.
 *
 * Where the addon cannot be loaded (Windows, where Node exposes no fd; Deno,
 * whose node:net handles have none either; addons disabled; no prebuild for
 * this platform and no source build), the library runs on
 * Node's own socket.setKeepAlive: `capabilities` says so, and an option that
 * strategy cannot honour is an ERR_FEATURE_UNAVAILABLE_ON_PLATFORM error that
 * names the reason — never a silent no-op.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { NativeAddon } from './addon';

/** The package root, the same from src/native (ts-jest) and dist/native (published). */
export const packageRoot = path.resolve(__dirname, '..', '..');

/** Read once, at import: the platform the package was loaded on. */
const platform = process.platform;

/** The JavaScript runtime, from the version its process object reports (Bun and Deno add their own). */
export const runtime: 'node' | 'bun' | 'deno' =
  typeof process.versions.bun === 'string' ? 'bun' : typeof process.versions.deno === 'string' ? 'deno' : 'node';

export type AddonLoad =
  | { readonly addon: NativeAddon; readonly file: string }
  | { readonly addon: undefined; readonly reason: string };

function describeFailure(cause: unknown): string {
  const code = (cause as { code?: unknown } | null)?.code;
  if (code === 'ERR_DLOPEN_DISABLED' || code === 'ERR_ACCESS_DENIED') {
    return 'native addons are disabled in this process (--no-addons, or --permission without --allow-addons)';
  }
  // One line: loaders' messages carry line breaks (node-gyp-build's "\n    loaded from: <dir>\n").
  const message = (cause instanceof Error ? cause.message : String(cause)).replace(/\s+/g, ' ').trim().replace(/[.:]$/, '');
  return `no working build of the native addon for ${process.platform}-${process.arch} (Node ${process.version}, ` +
    `N-API ${process.versions.napi}) in ${packageRoot}: ${message}. To build it from source, run "npx node-gyp rebuild" in ` +
    `${packageRoot} (python3, make and a C++ compiler needed), or use a platform with a prebuild`;
}

/**
 * fs.existsSync, except that a path the permission model does not let this process read is absent:
 * Node 26's existsSync throws ERR_ACCESS_DENIED there (e.g. /etc with only the app's directory readable).
 */
function exists(file: string): boolean {
  try {
    return fs.existsSync(file);
  } catch {
    return false;
  }
}

/**
 * The local build, then the prebuild for this platform (and C library) by its known path
 * (cheaper than node-gyp-build's directory search: docs/performance.md, "Import cost"),
 * then node-gyp-build, which also knows musl and other tags.
 * PREBUILDS_ONLY=1 skips the local build, as node-gyp-build does.
 */
function candidates(): string[] {
  // Alpine's musl: its own prebuild (a glibc one might load through gcompat), as node-gyp-build decides it.
  const musl = platform === 'linux' && exists('/etc/alpine-release');
  const list = [path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, musl ? 'tcp-keepalive.musl.node' : 'tcp-keepalive.node')];
  if (!process.env.PREBUILDS_ONLY) list.unshift(path.join(packageRoot, 'build', 'Release', 'tcp_keepalive.node'));
  return list;
}

function load(): AddonLoad {
  if (platform === 'win32') return { addon: undefined, reason: 'Node.js exposes no socket file descriptor on Windows' };
  if (runtime === 'deno') {
    return {
      addon: undefined,
      reason: "Deno's node:net exposes no socket file descriptor (its TCP handles have no fd), so the native addon cannot be used; Deno's setKeepAlive sets the idle time only",
    };
  }
  let firstFailure: unknown;
  for (const file of candidates()) {
    if (!exists(file)) continue;
    try {
      return { addon: require(file) as NativeAddon, file };
    } catch (cause) {
      firstFailure ??= cause;
      // A disabled loader refuses every file alike.
      if ((cause as { code?: unknown }).code === 'ERR_DLOPEN_DISABLED') break;
    }
  }
  try {
    const nodeGypBuild = require('node-gyp-build') as { (root: string): unknown; resolve(root: string): string };
    const file = nodeGypBuild.resolve(packageRoot);
    return { addon: require(file) as NativeAddon, file };
  } catch (cause) {
    return { addon: undefined, reason: describeFailure(firstFailure ?? cause) };
  }
}

let loaded: AddonLoad | undefined;

/** The addon and the file it came from, or why there is none; loaded on first call. */
export function addonLoad(): AddonLoad {
  return (loaded ??= load());
}

/** The addon, or undefined where the library runs on Node's own setKeepAlive (see addonLoad().reason). */
export function addon(): NativeAddon | undefined {
  return (loaded ??= load()).addon;
}
