/** The presets are shared by every importer in a process: nobody may change them for the others. */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { IDLE_TIMEOUT_PRESETS, type IdleTimeoutPreset, planKeepalive } from '../../src/planner';

const request = { path: 'aws-nlb' as const, detectWithin: 60_000 };

test('assigning a preset field, or adding a preset, throws in strict mode and changes no later plan', () => {
  'use strict';
  const before = planKeepalive(request);
  const writable = IDLE_TIMEOUT_PRESETS as unknown as Record<string, { -readonly [K in keyof IdleTimeoutPreset]: IdleTimeoutPreset[K] }>;
  expect(() => {
    writable['aws-nlb']!.idleTimeout = 1000;
  }).toThrow(TypeError);
  expect(() => {
    writable['aws-nlb']!.probesRefresh = false;
  }).toThrow(TypeError);
  expect(() => {
    writable['my-lb'] = { ...writable['aws-nlb']!, idleTimeout: 1000 };
  }).toThrow(TypeError);
  expect(() => {
    delete writable['aws-nlb'];
  }).toThrow(TypeError);
  expect(IDLE_TIMEOUT_PRESETS['aws-nlb'].idleTimeout).toBe(350_000);
  expect(planKeepalive(request)).toEqual(before);
});

test('every preset is frozen, and so is the table', () => {
  expect(Object.isFrozen(IDLE_TIMEOUT_PRESETS)).toBe(true);
  for (const [name, preset] of Object.entries(IDLE_TIMEOUT_PRESETS)) {
    expect([name, Object.isFrozen(preset)]).toEqual([name, true]);
  }
});

test('in sloppy-mode code an assignment is ignored: later plans are unchanged', () => {
  const root = path.join(__dirname, '..', '..');
  // `node -e` runs sloppy-mode CommonJS (this file is strict once compiled), on the built planner in dist/.
  const out = execFileSync(
    process.execPath,
    [
      '-e',
      `
    const { IDLE_TIMEOUT_PRESETS, planKeepalive } = require('tcp-keepalive/planner');
    const before = JSON.stringify(planKeepalive({ path: 'aws-nlb', detectWithin: 60000 }));
    IDLE_TIMEOUT_PRESETS['aws-nlb'].idleTimeout = 1000;
    console.log(IDLE_TIMEOUT_PRESETS['aws-nlb'].idleTimeout, JSON.stringify(planKeepalive({ path: 'aws-nlb', detectWithin: 60000 })) === before);
  `,
    ],
    { cwd: root, encoding: 'utf8', timeout: 30_000 },
  ).trim();
  expect(out).toBe('350000 true');
});
