import path from 'node:path';
import nodeGypBuild from 'node-gyp-build';
import type { NativeAddon } from './addon';

/** The package root, the same from src/native (ts-jest) and dist/native (published). */
export const packageRoot = path.resolve(__dirname, '..', '..');

function loadAddon(): NativeAddon {
  try {
    return nodeGypBuild(packageRoot) as NativeAddon;
  } catch (cause) {
    // node-gyp-build says which builds it looked for; dlopen says why a found one failed.
    const reason = cause instanceof Error ? cause.message : String(cause);
    const error = new Error(
      `tcp-keepalive: cannot load its native addon for ${process.platform}-${process.arch} ` +
        `(Node ${process.version}, N-API ${process.versions.napi}) from ${packageRoot}: ${reason}. ` +
        'Reinstall the package, or build from source with `npx node-gyp rebuild` in that folder.',
      { cause },
    );
    Object.defineProperty(error, 'code', { value: 'ERR_DLOPEN_FAILED', enumerable: true });
    throw error;
  }
}

/** Node exposes no socket fd on Windows, so the addon is never needed there. */
export const addon: NativeAddon | undefined = process.platform === 'win32' ? undefined : loadAddon();
