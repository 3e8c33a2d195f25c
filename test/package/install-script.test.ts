/** scripts/install.js on Windows: nothing is built (the addon is never used there), nothing is printed, exit 0. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');

test('on win32 the install script builds nothing and exits 0 silently', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpka-install-win32-'));
  try {
    // Loaded before the script: the platform reads as win32, and any child process it tried to start is recorded.
    const preload = path.join(dir, 'as-win32.js');
    fs.writeFileSync(
      preload,
      `Object.defineProperty(process, 'platform', { value: 'win32' });
      const childProcess = require('node:child_process');
      for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) {
        childProcess[name] = () => { throw new Error('the install script started a process on win32: ' + name); };
      }`,
    );
    const result = spawnSync(process.execPath, ['--require', preload, path.join(root, 'scripts', 'install.js')], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({ status: 0, stdout: '', stderr: '' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
