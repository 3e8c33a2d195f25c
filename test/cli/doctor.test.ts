/**
 * The `tcp-keepalive` command as a user runs it (dist/cli/main.js in a child
 * process), against processes that say what they set: a Python process with
 * setsockopt calls and a Node process configured with this library. Every
 * value doctor reports is compared with what the process set and, for the
 * timer, with `ss -o`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseEndpoint, parseProcNetTcp, tcpRowsOf } from '../../src/cli/proc';
import { planKeepalive } from '../../src/planner';
import { kernelReader } from '../helpers/independent-kernel';
import { describeWhen } from '../integration/support';
import { assertCliBuilt, cliPath, connectionOn, doctorJson, root, runCli, ssTimerMs, startTarget, sysctl, type Target } from './support';

jest.setTimeout(60_000);

const onLinux = process.platform === 'linux' ? describe : describe.skip;

beforeAll(() => assertCliBuilt());

/**
 * Our reading of a keepalive timer lies between two `ss -tino` readings taken
 * before and after it (ss drops the ms above 10 s: 1 s of slack). A timer
 * that fired and was re-armed in between (a probe went out) is measured again.
 */
function expectSameTimerAsSs(localPort: number, remotePort: number, ours: () => number): void {
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = ssTimerMs(localPort, remotePort);
    const reading = ours();
    const after = ssTimerMs(localPort, remotePort);
    expect([before?.kind, after?.kind]).toEqual(['keepalive', 'keepalive']);
    if (after!.ms > before!.ms) continue;
    expect(reading).toBeLessThanOrEqual(before!.ms + 1000);
    expect(reading).toBeGreaterThanOrEqual(after!.ms - 1000);
    return;
  }
  throw new Error('the keepalive timer was re-armed during each of 5 measurements');
}

describe('/proc/net/tcp parsing', () => {
  test("addresses in the kernel's hex, both families", () => {
    expect(parseEndpoint('0100007F:1538')).toEqual({ address: '127.0.0.1', port: 5432 });
    expect(parseEndpoint('00000000000000000000000001000000:18EB')).toEqual({ address: '::1', port: 6379 });
    expect(parseEndpoint('0000000000000000FFFF00000100007F:0050')).toEqual({ address: '::ffff:127.0.0.1', port: 80 });
    expect(parseEndpoint('B80D0120000000000000000001000000:01BB')).toEqual({ address: '2001:db8::1', port: 443 });
  });

  onLinux('a live socket of this process: state, ports and the keepalive timer as ss shows it', () => {
    test('matches the socket and ss -tino', async () => {
      const server = net.createServer((socket) => socket.on('error', () => undefined));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as net.AddressInfo).port;
      const client = net.connect(port, '127.0.0.1');
      await new Promise((resolve) => client.once('connect', resolve));
      try {
        client.setKeepAlive(true, 30_000);
        const row = [...tcpRowsOf(process.pid).values()].find((r) => r.local.port === client.localPort && r.remote.port === port);
        expect(row).toMatchObject({
          family: 4,
          local: { address: '127.0.0.1' },
          remote: { address: '127.0.0.1', port },
          state: 'established',
          timer: 'keepalive',
          probes: 0,
        });
        expect(row!.timerExpiresIn).toBeGreaterThan(25_000);
        expect(row!.timerExpiresIn).toBeLessThanOrEqual(30_000);
        expectSameTimerAsSs(
          client.localPort!,
          port,
          () => [...tcpRowsOf(process.pid).values()].find((r) => r.inode === row!.inode)!.timerExpiresIn,
        );
        const listener = [...tcpRowsOf(process.pid).values()].find((r) => r.local.port === port && r.state === 'listen');
        expect(listener?.timer).toBe('none');
      } finally {
        client.destroy();
        await new Promise((resolve) => server.close(resolve));
      }
    });

    test('a header-only or truncated table gives no rows', () => {
      expect(parseProcNetTcp('  sl  local_address rem_address   st\n', 4)).toEqual([]);
      expect(parseProcNetTcp('header\n   0: 0100007F:1538\n', 4)).toEqual([]);
    });
  });
});

describe('user mistakes: one line on stderr, exit 64, no stack trace', () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /^$/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['doctor'], /give --pid <pid> or --all/],
    [['doctor', '--pid', '1', '--all'], /exclude each other/],
    [['doctor', '--pid', 'abc'], /--pid "abc" is not a process id/],
    [['doctor', '--pid', '0x10'], /--pid "0x10" is not a process id \(a decimal number/],
    [['doctor', '--pid', '1e3'], /--pid "1e3" is not a process id/],
    [['doctor', '--pid', '1.0'], /--pid "1.0" is not a process id/],
    [['doctor', '--pid', '1,0b1'], /--pid "0b1" is not a process id/],
    [['doctor', '--pid', '1', '--port', '0x1538'], /--port "0x1538" is not a port number/],
    [['doctor', '--pid'], /--pid needs a value/],
    [['doctor', '--pid', '1', '--port', '70000'], /--port "70000" is not a port number/],
    [['doctor', '--pid', '1', '--colour'], /unknown option --colour/],
    [['doctor', '--pid', '1', '--detect-within', '1 minute'], /--detect-within "1 minute" is not a duration/],
    [['plan', '--path', 'aws'], /--path "aws" is neither a preset/],
    [['plan', '--path', 'haproxy'], /--path haproxy has no default idle timeout: give yours as haproxy=<duration>/],
    [['plan', '--path', 'aws-nlb', '--detect-within', '1s'], /detecting a dead peer within 1000 ms is impossible/],
    [['plan', '--count', '0'], /--count "0" must be a whole number from 1 to 127/],
    [['plan', '--presets', '--path', 'aws-nlb'], /--presets takes no other options/],
  ];
  test.each(cases)('tcp-keepalive %j', (args, message) => {
    const result = runCli(args);
    expect(result.status).toBe(64);
    if (args.length === 0) {
      expect(result.stderr).toContain('Usage: tcp-keepalive <command>');
      expect(result.stdout).toBe('');
      return;
    }
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe('');
  });

  test('--help of each subcommand', () => {
    for (const [args, usage] of [
      [['--help'], 'Usage: tcp-keepalive <command>'],
      [['doctor', '--help'], 'Usage: tcp-keepalive doctor'],
      [['plan', '-h'], 'Usage: tcp-keepalive plan'],
    ] as const) {
      const result = runCli(args);
      expect(result.status).toBe(0);
      expect(result.stdout).toContain(usage);
    }
  });
});

describe('tcp-keepalive plan', () => {
  test("--json is the planner's plan, with the raw setsockopt values", () => {
    const result = runCli(['plan', '--path', 'aws-nlb,gcp-conntrack', '--detect-within', '60s', '--json']);
    expect(result.status).toBe(0);
    const expected = planKeepalive({ path: ['aws-nlb', 'gcp-conntrack'], detectWithin: 60_000 });
    expect(JSON.parse(result.stdout)).toEqual({
      schema: 'tcp-keepalive.plan/1',
      request: { path: ['aws-nlb', 'gcp-conntrack'], detectWithin: 60_000 },
      options: expected.options,
      times: expected.times,
      setsockopt: { SO_KEEPALIVE: 1, TCP_KEEPIDLE: 30, TCP_KEEPINTVL: 10, TCP_KEEPCNT: 3, TCP_USER_TIMEOUT: 60_000 },
      environment: { NODE_OPTIONS: '--require tcp-keepalive/register', TCP_KEEPALIVE: 'idle=30s,interval=10s,count=3,userTimeout=60s' },
      worstCaseDetection: expected.worstCaseDetection,
      limitingHop: expected.limitingHop,
      heartbeatWithin: null,
      notes: expected.notes,
    });
  });

  test('a configured preset timeout, a hop probes do not refresh, count and margin', () => {
    const result = runCli(['plan', '--path', 'haproxy=30s,azure-lb', '--detect-within', '2m', '--count', '4', '--margin', '0.5', '--json']);
    expect(result.status).toBe(0);
    const expected = planKeepalive({
      path: [{ preset: 'haproxy', idleTimeout: 30_000 }, 'azure-lb'],
      detectWithin: 120_000,
      count: 4,
      margin: 0.5,
    });
    const plan = JSON.parse(result.stdout);
    expect(plan.options).toEqual(expected.options);
    expect(plan.heartbeatWithin).toBe(30_000);
    expect(plan.limitingHop.label).toBe('Azure Load Balancer');
  });

  test('the table names the options, detection, limiting hop and notes', () => {
    const result = runCli(['plan', '--path', 'aws-nlb', '--detect-within', '60s']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('configureKeepalive(socket, { idle: 30_000, interval: 10_000, count: 3, userTimeout: 60_000 });');
    expect(result.stdout).toContain('SO_KEEPALIVE=1 TCP_KEEPIDLE=30 TCP_KEEPINTVL=10 TCP_KEEPCNT=3 TCP_USER_TIMEOUT=60000');
    expect(result.stdout).toContain(
      'NODE_OPTIONS="--require tcp-keepalive/register" TCP_KEEPALIVE="idle=30s,interval=10s,count=3,userTimeout=60s"',
    );
    expect(result.stdout).toContain('dead peer noticed, idle: 1m after the last packet received');
    expect(result.stdout).toContain('dead peer noticed, data in flight: 1m after the first retransmission (userTimeout)');
    expect(result.stdout).toContain('live peer that stops reading: connection ended after a 1m stall');
    expect(result.stdout).toContain('worst-case detection: 1m');
    expect(result.stdout).toContain('limiting hop: AWS Network Load Balancer, idle timeout 5m50s');
    expect(result.stdout).not.toMatch(/\u001b\[/); // not a TTY: no colour
  });

  test("--stall-tolerance: the planner's stallTolerance; never = no TCP_USER_TIMEOUT, and the times say what that costs", () => {
    const longer = JSON.parse(runCli(['plan', '--path', 'aws-nlb', '--detect-within', '60s', '--stall-tolerance', '90s', '--json']).stdout);
    const expected = planKeepalive({ path: 'aws-nlb', detectWithin: 60_000, stallTolerance: 90_000 });
    expect(longer.request).toEqual({ path: ['aws-nlb'], detectWithin: 60_000, stallTolerance: 90_000 });
    expect(longer.options).toEqual(expected.options);
    expect(longer.times).toEqual({ idleDeadPeer: 90_000, deadWithDataInFlight: 90_000, survivableStall: 90_000 });
    const never = JSON.parse(
      runCli(['plan', '--path', 'aws-nlb', '--detect-within', '60s', '--stall-tolerance', 'never', '--json']).stdout,
    );
    expect(never.request.stallTolerance).toBeNull();
    expect(never.options.userTimeout).toBe(0);
    expect(never.times).toEqual({ idleDeadPeer: 60_000, deadWithDataInFlight: 924_600, survivableStall: null });
    const text = runCli(['plan', '--path', 'aws-nlb', '--detect-within', '60s', '--stall-tolerance', 'never']).stdout;
    expect(text).toContain('live peer that stops reading: never cut off (no userTimeout)');
    expect(text).toContain('dead peer noticed, data in flight: 15m25s after the first retransmission');
    expect(runCli(['plan', '--stall-tolerance', 'forever']).stderr).toMatch(
      /--stall-tolerance "forever" is neither a duration .* nor never/,
    );
  });

  test('no --path: detection alone, the default budget of 2 minutes, no trace of a stand-in hop', () => {
    const plan = JSON.parse(runCli(['plan', '--json']).stdout);
    expect(plan.request).toEqual({ path: [], detectWithin: 120_000 });
    expect(plan.options).toEqual({ enable: true, idle: 60_000, interval: 20_000, count: 3, userTimeout: 120_000 });
    expect(plan).toMatchObject({ limitingHop: null, heartbeatWithin: null, worstCaseDetection: 120_000 });
    expect(plan.notes[0]).toMatch(/^no --path given/);
    expect(plan.notes.join('\n')).not.toMatch(/no --path given:.*no --path given|32767|heartbeat/);
  });

  const scriptTool = spawnSync('script', ['--version']).status === 0;
  (process.platform === 'linux' && scriptTool ? test : test.skip)(
    'colour only on a terminal, and not with NO_COLOR (run under script(1) for a TTY)',
    () => {
      const onTerminal = (env: string): string =>
        spawnSync('script', ['-qec', `${env} ${JSON.stringify(process.execPath)} ${JSON.stringify(cliPath)} plan`, '/dev/null'], {
          encoding: 'utf8',
          timeout: 20_000,
        }).stdout;
      expect(onTerminal('NO_COLOR=')).toContain('\u001b[1mconfigureKeepalive(');
      expect(onTerminal('NO_COLOR=1')).not.toMatch(/\u001b\[/);
      expect(onTerminal('NO_COLOR=1')).toContain('configureKeepalive(');
    },
  );

  test('--presets lists every preset with its source', () => {
    const listed = JSON.parse(runCli(['plan', '--presets', '--json']).stdout) as { presets: Array<{ name: string; source: string }> };
    const { IDLE_TIMEOUT_PRESETS } = require('../../src/planner') as typeof import('../../src/planner');
    expect(listed.presets.map((p) => p.name)).toEqual(Object.keys(IDLE_TIMEOUT_PRESETS));
    for (const preset of listed.presets) expect(preset.source).toMatch(/^https:\/\//);
    const table = runCli(['plan', '--presets']).stdout;
    for (const name of Object.keys(IDLE_TIMEOUT_PRESETS)) expect(table).toContain(name);
  });
});

describe('loads only what it uses', () => {
  /** Runs main() in a fresh process and lists the package files it loaded. */
  function loadedBy(args: readonly string[]): string[] {
    const script = `
      const { main } = require(${JSON.stringify(cliPath)});
      const sink = { write: () => true };
      main(${JSON.stringify(args)}, { stdout: sink, stderr: sink, env: {} });
      process.stdout.write(JSON.stringify(Object.keys(require.cache)));`;
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    return (JSON.parse(out) as string[]).map((file) => path.relative(root, file)).filter((file) => !file.startsWith('..'));
  }

  onLinux('doctor', () => {
    test('reads sockets without the client integrations or the socket-level core', async () => {
      // A connection of this process for it to read.
      const server = net.createServer((socket) => socket.on('error', () => undefined));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      await new Promise((resolve) => client.once('connect', resolve));
      let loaded: string[];
      try {
        loaded = loadedBy(['doctor', '--pid', String(process.pid), '--json']);
      } finally {
        client.destroy();
        await new Promise((resolve) => server.close(resolve));
      }
      expect(loaded).toContain(path.join('dist', 'cli', 'doctor.js'));
      expect(loaded).toContain(path.join('dist', 'native', 'load.js'));
      expect(loaded.filter((file) => file.startsWith(path.join('dist', 'integrations')))).toEqual([]);
      expect(loaded).not.toContain(path.join('dist', 'core', 'keepalive.js'));
      expect(loaded).not.toContain(path.join('dist', 'index.js'));
    });
  });

  test('plan loads neither the addon nor doctor', () => {
    const loaded = loadedBy(['plan', '--path', 'aws-nlb', '--detect-within', '60s']);
    expect(loaded).toContain(path.join('dist', 'planner', 'plan.js'));
    expect(loaded.filter((file) => /native|integrations|doctor|proc\.js/.test(file))).toEqual([]);
  });
});

interface PythonSocket {
  name: string;
  fd: number;
  localPort: number;
  remotePort: number;
  set: { enable?: number; idle?: number; interval?: number; count?: number; userTimeout?: number };
  readBack: { enable: number; idle: number; interval: number; count: number; userTimeout: number };
  sent: number;
  received: number;
}

/** doctor is Linux-only; there, a missing python3 skips loudly, and fails under CI. */
const describeWithPython =
  process.platform !== 'linux'
    ? describe.skip
    : (name: string, body: () => void): void =>
        describeWhen(name, spawnSync('python3', ['--version']).status === 0 ? undefined : 'python3 is not installed', body);

describeWithPython('doctor against a Python process with a known setsockopt configuration', () => {
  let target: Target<{ pid: number; listenerPort: number; sockets: PythonSocket[] }>;
  beforeAll(async () => {
    target = await startTarget('python3', [path.join(__dirname, 'fixtures', 'python-target.py')]);
  });
  afterAll(() => target?.stop());

  test('every value is what the process set, or the kernel default it left', () => {
    const { report, status } = doctorJson(['--pid', String(target.pid), '--detect-within', '60s']);
    const defaults = {
      idle: sysctl('tcp_keepalive_time'),
      interval: sysctl('tcp_keepalive_intvl'),
      count: sysctl('tcp_keepalive_probes'),
      userTimeout: 0,
    };
    const reader = kernelReader();
    for (const socket of target.info.sockets) {
      const connection = connectionOn(report, target.pid, socket.fd);
      const expected = { enable: socket.set.enable ?? 0, ...defaults, ...socket.set };
      expect({ name: socket.name, ...connection.kernel }).toEqual({
        name: socket.name,
        enable: expected.enable === 1,
        idle: expected.idle * 1000,
        interval: expected.interval * 1000,
        count: expected.count,
        userTimeout: expected.userTimeout,
      });
      // The process's own getsockopt agrees (a second reading, not through the addon).
      expect(socket.readBack).toEqual({
        enable: expected.enable,
        idle: expected.idle,
        interval: expected.interval,
        count: expected.count,
        userTimeout: expected.userTimeout,
      });
      if ('binary' in reader) {
        const outside = JSON.parse(execFileSync(reader.binary, [String(target.pid), String(socket.fd)], { encoding: 'utf8' }));
        expect(outside).toEqual({
          enabled: expected.enable,
          idle: expected.idle,
          interval: expected.interval,
          count: expected.count,
          userTimeout: expected.userTimeout,
        });
      }
      expect(connection).toMatchObject({
        local: { address: '127.0.0.1', port: socket.localPort },
        remote: { address: '127.0.0.1', port: socket.remotePort },
        state: 'established',
        unreadable: null,
        keepaliveFromTimer: null,
      });
      expect(connection.timer.kind).toBe(expected.enable === 1 ? 'keepalive' : 'none');
      // TCP_INFO of the duplicate: the bytes this socket sent and received (a connecting end's bytesAcked counts its SYN too).
      const synAcked = socket.name.endsWith('-peer') ? 0 : 1;
      expect(connection.tcpInfo).toMatchObject({
        state: 'established',
        bytesSent: socket.sent,
        bytesReceived: socket.received,
        bytesAcked: socket.sent + synAcked,
        unacked: 0,
      });
    }
    const configured = target.info.sockets.find((s) => s.name === 'configured')!;
    expectSameTimerAsSs(
      configured.localPort,
      configured.remotePort,
      () => connectionOn(doctorJson(['--pid', String(target.pid)]).report, target.pid, configured.fd).timer.expiresIn,
    );
    expect(report.processes[0]!.listening).toBe(1);
    expect(status).toBe(1); // some are at risk
  });

  test('--json keeps its documented shape (docs/cli.md, schema tcp-keepalive.doctor/1)', () => {
    const { report } = doctorJson(['--pid', String(target.pid), '--detect-within', '60s']);
    expect(Object.keys(report)).toEqual(['schema', 'policy', 'processes', 'skipped', 'summary', 'plan', 'exitCode']);
    expect(report.schema).toBe('tcp-keepalive.doctor/1');
    expect(Object.keys(report.policy)).toEqual(['path', 'detectWithin', 'retransmissionGiveUp', 'tcpRetries2']);
    expect(Object.keys(report.processes[0]!)).toEqual([
      'pid',
      'command',
      'uid',
      'user',
      'networkNamespace',
      'thread',
      'inspected',
      'error',
      'listening',
      'connections',
      'sameUserSockets',
    ]);
    expect(Object.keys(report.processes[0]!.connections[0]!)).toEqual([
      'fd',
      'inode',
      'family',
      'local',
      'remote',
      'state',
      'kernel',
      'unreadable',
      'keepaliveFromTimer',
      'timer',
      'queues',
      'tcpInfo',
      'verdict',
      'reasons',
      'notes',
      'worstCaseDetection',
      'worstCaseDetectionAtLeast',
      'times',
    ]);
    expect(Object.keys(report.summary)).toEqual(['processes', 'connections', 'ok', 'atRisk', 'unknown', 'notInspected', 'seenInProcOnly']);
    expect(Object.keys(report.plan!)).toEqual([
      'options',
      'times',
      'setsockopt',
      'environment',
      'worstCaseDetection',
      'limitingHop',
      'heartbeatWithin',
      'notes',
    ]);
  });

  test('verdicts and reasons against the path and the budget', () => {
    const { report, status } = doctorJson(['--pid', String(target.pid), '--path', '20s', '--detect-within', '60s']);
    const byName = (name: string) => connectionOn(report, target.pid, target.info.sockets.find((s) => s.name === name)!.fd);
    expect(byName('configured')).toMatchObject({ verdict: 'ok', reasons: [], worstCaseDetection: 26_000 });
    expect(byName('untouched').verdict).toBe('at-risk');
    expect(byName('untouched').reasons.join('\n')).toMatch(/keepalive is off/);
    expect(byName('untouched').reasons.join('\n')).toMatch(/no TCP_USER_TIMEOUT/);
    const keepaliveOnly = byName('keepalive-only');
    expect(keepaliveOnly.verdict).toBe('at-risk');
    expect(keepaliveOnly.reasons.join('\n')).toMatch(/is not below the 20s idle timeout/);
    expect(keepaliveOnly.reasons.join('\n')).toMatch(/more than --detect-within 1m/);
    expect(report.summary).toEqual({ processes: 1, connections: 6, ok: 1, atRisk: 5, unknown: 0, notInspected: 0, seenInProcOnly: 0 });
    // The planner's plan; no connection at risk holds a smaller idle, interval or count, so nothing is kept.
    const planned = planKeepalive({ path: 20_000, detectWithin: 60_000 }).options;
    expect(planned).toEqual({ enable: true, idle: 4000, interval: 8000, count: 7, userTimeout: 60_000 });
    expect(report.plan?.options).toEqual(planned);
    expect(status).toBe(1);

    // A tighter budget puts the configured socket at risk too: 11 + 3 × 5 = 26 s > 20 s, user timeout 26 s > 20 s.
    const tight = doctorJson(['--pid', String(target.pid), '--detect-within', '20s']).report;
    const reasons = connectionOn(tight, target.pid, target.info.sockets[0]!.fd).reasons.join('\n');
    expect(reasons).toMatch(
      /noticed only after up to 26s, more than --detect-within 20s: with TCP_USER_TIMEOUT 26s set, Linux ignores count 5/,
    );
    expect(reasons).toMatch(/TCP_USER_TIMEOUT 26s is longer than --detect-within 20s/);
  });

  test('--stall-tolerance goes to the plan that fixes what is at risk', () => {
    const { report } = doctorJson(['--pid', String(target.pid), '--detect-within', '60s', '--stall-tolerance', '90s']);
    expect(report.plan?.options.userTimeout).toBe(90_000);
    expect(report.plan?.times.survivableStall).toBe(90_000);
    const never = doctorJson(['--pid', String(target.pid), '--detect-within', '60s', '--stall-tolerance', 'never']).report;
    expect(never.plan?.options.userTimeout).toBe(0);
    expect(never.plan?.times).toMatchObject({ deadWithDataInFlight: 924_600, survivableStall: null });
  });

  test('--all finds it among every process', () => {
    const { report } = doctorJson(['--all', '--port', String(target.info.listenerPort)]);
    const found = report.processes.find((p) => p.pid === target.pid);
    expect(found?.connections.map((c) => c.fd).sort()).toEqual(target.info.sockets.map((s) => s.fd).sort());
    expect(report.processes.every((p) => p.inspected && p.connections.length > 0)).toBe(true);
  });

  test('--port keeps the connections on that port only; the table shows the same', () => {
    const configured = target.info.sockets.find((s) => s.name === 'configured')!;
    const { report } = doctorJson(['--pid', String(target.pid), '--port', String(configured.localPort)]);
    expect(report.processes[0]!.connections.map((c) => c.fd).sort()).toEqual(
      target.info.sockets
        .filter((s) => s.localPort === configured.localPort || s.remotePort === configured.localPort)
        .map((s) => s.fd)
        .sort(),
    );
    const table = runCli(['doctor', '--pid', String(target.pid), '--port', String(configured.localPort), '--detect-within', '60s']);
    expect(table.status).toBe(1); // the accepted end, also on that port, has keepalive off
    expect(table.stdout).toMatch(
      new RegExp(
        `\\n  ${configured.fd} +127\\.0\\.0\\.1:${configured.localPort} +127\\.0\\.0\\.1:${configured.remotePort} +established +on +11s +3s +5 +26s +keepalive,`,
      ),
    );
    expect(table.stdout).not.toMatch(/\u001b\[/);
  });
});

onLinux('doctor against a Node process configured with tcp-keepalive', () => {
  const policy = { idle: 13_000, interval: 4_000, count: 6, userTimeout: 31_000 };
  let target: Target<{ pid: number; fd: number; localPort: number; remotePort: number; getKeepalive: Record<string, unknown> }>;
  beforeAll(async () => {
    target = await startTarget(process.execPath, [path.join(__dirname, 'fixtures', 'node-target.js'), JSON.stringify(policy)]);
  });
  afterAll(() => target?.stop());

  test('doctor reads what configureKeepalive set, as getKeepalive in that process does', () => {
    const { report, status } = doctorJson([
      '--pid',
      String(target.pid),
      '--port',
      String(target.info.remotePort),
      '--detect-within',
      '60s',
    ]);
    const connection = connectionOn(report, target.pid, target.info.fd);
    expect(connection.kernel).toEqual({ enable: true, ...policy });
    const { enabled, enable, ...numbers } = target.info.getKeepalive as { enabled?: boolean; enable?: boolean };
    expect(enable ?? enabled).toBe(true);
    expect(numbers).toEqual(policy);
    // userTimeout 31 s is set, so Linux ignores count 6: the first probe at or after 31 s is at 13 + 4 × 5 = 33 s.
    expect(connection).toMatchObject({ verdict: 'ok', worstCaseDetection: 33_000, local: { port: target.info.localPort } });
    expect(connection.times).toEqual({ idleDeadPeer: 33_000, deadWithDataInFlight: 31_000, survivableStall: 31_000 });
    // The server's accepted end (same process) has keepalive off: libuv's default.
    const accepted = report.processes[0]!.connections.find((c) => c.local.port === target.info.remotePort)!;
    expect(accepted.kernel?.enable).toBe(false);
    expect(status).toBe(1);
  });
});

onLinux('doctor: what it cannot inspect', () => {
  test('a process that does not exist: exit 2, and why', () => {
    const { report, status } = doctorJson(['--pid', '2147483646']);
    expect(status).toBe(2);
    expect(report.processes[0]).toMatchObject({ inspected: false, error: { code: 'ENOENT' } });
    expect(report.processes[0]!.error!.message).toMatch(/no such process/);
    const table = runCli(['doctor', '--pid', '2147483646']);
    expect(table.status).toBe(2);
    expect(table.stdout).toMatch(/could not inspect: .*no such process/);
    // The real path and pid, never a placeholder; no empty command after the pid.
    expect(table.stdout).toMatch(/^pid 2147483646\n/);
    expect(table.stdout).toContain('reading /proc/2147483646/status: ENOENT, no such process: there is no process 2147483646');
    expect(table.stdout).not.toContain('PID');
  });

  test('a thread id: the process it belongs to is inspected, and the output says so', async () => {
    const target = await startTarget<{ pid: number; fd: number }>(process.execPath, [path.join(__dirname, 'fixtures', 'plain-target.js')]);
    try {
      // Every Node process has threads besides the main one (libuv's pool, V8's platform workers).
      const thread = fs
        .readdirSync(`/proc/${target.pid}/task`)
        .map(Number)
        .find((tid) => tid !== target.pid)!;
      expect(thread).toBeGreaterThan(0);
      const { report } = doctorJson(['--pid', String(thread)]);
      expect(report.processes).toHaveLength(1);
      expect(report.processes[0]).toMatchObject({ pid: target.pid, thread, inspected: true });
      expect(connectionOn(report, target.pid, target.info.fd).kernel).toMatchObject({
        enable: false,
        count: sysctl('tcp_keepalive_probes'),
      });
      const table = runCli(['doctor', '--pid', String(thread)]);
      expect(table.stdout).toContain(`${thread} is a thread of process ${target.pid}: showing the process`);
      expect(table.stdout).not.toMatch(/established +\?/);
    } finally {
      target.stop();
    }
  });
});

onLinux("the plan's zero-code environment, applied by tcp-keepalive/register, is what doctor then reads", () => {
  let target: Target<{ pid: number; fd: number; acceptedFd: number; localPort: number; remotePort: number }>;
  let plan: { options: Record<string, unknown>; environment: { NODE_OPTIONS: string; TCP_KEEPALIVE: string } };
  beforeAll(async () => {
    plan = JSON.parse(runCli(['plan', '--path', 'azure-lb', '--detect-within', '90s', '--json']).stdout);
    expect(plan.environment.NODE_OPTIONS).toBe('--require tcp-keepalive/register');
    // The package's register entry, by path (this repository is not installed in its own node_modules).
    const register = path.join(root, 'dist', 'register', 'index.js');
    target = await startTarget('env', [
      `NODE_OPTIONS=--require ${register}`,
      `TCP_KEEPALIVE=${plan.environment.TCP_KEEPALIVE}`,
      'TCP_KEEPALIVE_SERVER=1',
      process.execPath,
      path.join(__dirname, 'fixtures', 'plain-target.js'),
    ]);
  });
  afterAll(() => target?.stop());

  test("both ends hold the plan's options: ok", () => {
    const { report, status } = doctorJson(['--pid', String(target.pid), '--path', 'azure-lb', '--detect-within', '90s']);
    const { enable, idle, interval, count, userTimeout } = plan.options;
    for (const fd of [target.info.fd, target.info.acceptedFd]) {
      expect(connectionOn(report, target.pid, fd)).toMatchObject({ kernel: { enable, idle, interval, count, userTimeout }, verdict: 'ok' });
    }
    expect(status).toBe(0);
  });
});
