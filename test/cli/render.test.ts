/**
 * doctor's judge and render steps, in-process, over data gathered from real runs and frozen in
 * test/cli/fixtures/doctor (recorded by record-doctor.js there): the same gathered data must give the same
 * table and the same JSON, byte for byte.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseFlags } from '../../src/cli/args';
import { doctorOptions, doctorPolicy } from '../../src/cli/doctor';
import type { GatheredProcess } from '../../src/cli/doctor-gather';
import { judgeDoctor } from '../../src/cli/doctor-judge';
import { renderDoctorJson, renderDoctorText } from '../../src/cli/doctor-render';
import { styleFor } from '../../src/cli/format';

const fixtures = path.join(__dirname, 'fixtures', 'doctor');
const plain = styleFor({ isTTY: false }, {});
const coloured = styleFor({ isTTY: true }, {});

interface Recorded {
  argv: string[];
  limit: { retries2: number; giveUpMs: number };
  gathered: GatheredProcess[];
}

function rendered(name: string, style = plain, all = false): { text: string; json: string; exitCode: number } {
  const recorded = JSON.parse(fs.readFileSync(path.join(fixtures, `${name}.gathered.json`), 'utf8')) as Recorded;
  const flags = parseFlags(
    recorded.argv,
    { values: ['pid', 'port', 'path', 'detect-within', 'stall-tolerance'], switches: ['all', 'json', 'help'] },
    'doctor',
  );
  const options = doctorOptions(flags);
  const { plan, policy } = doctorPolicy(options, recorded.limit);
  const { report, fix } = judgeDoctor(recorded.gathered, policy, plan, all);
  return {
    text: renderDoctorText(report, fix, { pathText: options.pathText, ports: options.ports, all }, style),
    json: renderDoctorJson(report),
    exitCode: report.exitCode,
  };
}

const expected = (file: string): string => fs.readFileSync(path.join(fixtures, file), 'utf8');

describe.each(['mixed', 'no-path', 'unreadable'])('doctor over the recorded %s run', (name) => {
  test('the table is the recorded one', () => {
    expect(rendered(name).text).toBe(expected(`${name}.txt`));
  });
  test('the JSON is the recorded one', () => {
    expect(rendered(name).json).toBe(expected(`${name}.json`));
  });
});

test('exit codes follow the summary: at risk 1 before not inspected 2', () => {
  expect(rendered('mixed').exitCode).toBe(1);
  expect(JSON.parse(rendered('mixed').json).summary).toEqual({
    processes: 4,
    connections: 6,
    ok: 1,
    atRisk: 5,
    unknown: 0,
    notInspected: 1,
    seenInProcOnly: 0,
  });
});

test('a terminal gets the same words in colour', () => {
  const { text } = rendered('mixed', coloured);
  expect(text).toContain('\u001b[31mat risk\u001b[39m');
  expect(text).toContain('\u001b[32mok\u001b[39m');
  expect(text.replace(/\u001b\[\d+m/g, '')).toBe(expected('mixed.txt'));
});

test('--all leaves out the processes it could not read and says how many', () => {
  const { text, json, exitCode } = rendered('mixed', plain, true);
  const report = JSON.parse(json);
  expect(report.skipped).toEqual({ count: 1, reason: expect.stringContaining('/proc/PID/fd is not readable') });
  expect(report.processes).toHaveLength(3);
  expect(text).toContain('1 processes not shown: their /proc/PID/fd is not readable by this user');
  expect(exitCode).toBe(1);
});

test('--all with nothing readable says so, naming the port filter', () => {
  const recorded = JSON.parse(fs.readFileSync(path.join(fixtures, 'unreadable.gathered.json'), 'utf8')) as Recorded;
  const options = doctorOptions(parseFlags(['--all', '--port', '5432,6379'], { values: ['port'], switches: ['all'] }, 'doctor'));
  const { plan, policy } = doctorPolicy(options, recorded.limit);
  const { report, fix } = judgeDoctor(recorded.gathered, policy, plan, true);
  expect(renderDoctorText(report, fix, { pathText: undefined, ports: options.ports, all: true }, plain)).toBe(
    'no process with a connection on port 5432, 6379 whose sockets this user may read\n\n' +
      '1 processes not shown: their /proc/PID/fd is not readable by this user (run as root to include them)\n\n' +
      '0 connections (no --path, dead peer noticed within 2m): 0 ok, 0 at risk, 0 unknown\n',
  );
  expect(report.exitCode).toBe(0);
});
