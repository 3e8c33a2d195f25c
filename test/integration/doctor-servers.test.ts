/**
 * `tcp-keepalive doctor` against the real servers of this machine — a
 * PostgreSQL backend (its own tcp_keepalives_* settings) and redis-server (its
 * tcp-keepalive setting) — and, without privilege, against processes it may
 * not fully read. Services that do not answer skip loudly, and fail under CI
 * (test/integration/support.ts).
 */
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { describeService, describeWhen, within } from './support';
import { assertCliBuilt, connectionOn, doctorJson, runCli, settledDoctorJson, startTarget, sysctl, type Target } from '../cli/support';

jest.setTimeout(60_000);

beforeAll(() => assertCliBuilt());

const pgConfig = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };

describeService('doctor on a PostgreSQL backend', 5432, () => {
  const clients: pg.Client[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
  });

  async function backend(settings: readonly string[]): Promise<{ pid: number; clientPort: number; shown: Record<string, string> }> {
    const client = new pg.Client(pgConfig);
    clients.push(client);
    await within(10_000, 'a PostgreSQL connection', client.connect());
    for (const setting of settings) await client.query(setting);
    const { rows } = await client.query(`SELECT pg_backend_pid() AS pid, current_setting('tcp_keepalives_idle') AS idle,
      current_setting('tcp_keepalives_interval') AS interval, current_setting('tcp_keepalives_count') AS count,
      current_setting('tcp_user_timeout') AS user_timeout`);
    const stream = (client as unknown as { connection: { stream: net.Socket } }).connection.stream;
    return { pid: Number(rows[0].pid), clientPort: stream.localPort!, shown: rows[0] };
  }

  test('a backend configured with SET tcp_keepalives_* and tcp_user_timeout: every value, verdict ok', async () => {
    const { pid, clientPort, shown } = await backend([
      'SET tcp_keepalives_idle = 17',
      'SET tcp_keepalives_interval = 4',
      'SET tcp_keepalives_count = 5',
      'SET tcp_user_timeout = 29000',
    ]);
    expect(shown).toMatchObject({ idle: '17', interval: '4', count: '5', user_timeout: '29000' });
    const { report, status } = await settledDoctorJson([
      '--pid',
      String(pid),
      '--port',
      String(clientPort),
      '--path',
      'aws-nlb',
      '--detect-within',
      '60s',
    ]);
    expect(report.processes[0]).toMatchObject({ pid, inspected: true, user: 'postgres' });
    expect(report.processes[0]!.connections).toHaveLength(1);
    const connection = report.processes[0]!.connections[0]!;
    expect(connection).toMatchObject({
      local: { port: 5432 },
      remote: { port: clientPort },
      state: 'established',
      kernel: { enable: true, idle: 17_000, interval: 4_000, count: 5, userTimeout: 29_000 },
      timer: { kind: 'keepalive' },
      verdict: 'ok',
      // tcp_user_timeout is set, so Linux ignores the count: the first probe at or after 29 s, 17 + 4 × 3 = 29 s.
      worstCaseDetection: 29_000,
    });
    expect(status).toBe(0);
  });

  test("a backend on the server's defaults: the values SHOW reports, at risk, and the postgresql.conf fix", async () => {
    const { pid, clientPort, shown } = await backend([]);
    const { report, status } = doctorJson([
      '--pid',
      String(pid),
      '--port',
      String(clientPort),
      '--path',
      'aws-nlb',
      '--detect-within',
      '60s',
    ]);
    const connection = report.processes[0]!.connections[0]!;
    // PostgreSQL always turns SO_KEEPALIVE on for TCP clients; SHOW gives what the socket holds when a setting is 0 (default).
    expect(connection.kernel).toEqual({
      enable: true,
      idle: Number(shown.idle) * 1000,
      interval: Number(shown.interval) * 1000,
      count: Number(shown.count),
      userTimeout: Number(shown.user_timeout),
    });
    expect(connection.verdict).toBe('at-risk');
    expect(status).toBe(1);
    const table = runCli(['doctor', '--pid', String(pid), '--port', String(clientPort), '--path', 'aws-nlb', '--detect-within', '60s']);
    expect(table.status).toBe(1);
    expect(table.stdout).toContain(
      'PostgreSQL (postgresql.conf): tcp_keepalives_idle = 30, tcp_keepalives_interval = 10, tcp_keepalives_count = 3, tcp_user_timeout = 60000',
    );
  });
});

/** One RESP command over a fresh connection; resolves to the raw reply. */
function redisCommand(socket: net.Socket, ...args: string[]): Promise<string> {
  return within(
    5000,
    `redis ${args.join(' ')}`,
    new Promise((resolve) => {
      socket.once('data', (data) => resolve(data.toString('utf8')));
      socket.write(`*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`);
    }),
  );
}

async function redisConnection(): Promise<net.Socket> {
  const socket = net.connect(6379, '127.0.0.1');
  socket.on('error', () => undefined);
  await within(5000, 'a Redis connection', new Promise((resolve) => socket.once('connect', resolve)));
  return socket;
}

describeService('doctor on redis-server', 6379, () => {
  test('CONFIG SET tcp-keepalive 23: idle 23 s, interval 23 / 3 = 7 s, count 3, as Redis sets them (anetKeepAlive)', async () => {
    const admin = await redisConnection();
    const before = /\$\d+\r\n(\d+)\r\n$/.exec(await redisCommand(admin, 'CONFIG', 'GET', 'tcp-keepalive'))![1]!;
    const pid = Number(/process_id:(\d+)/.exec(await redisCommand(admin, 'INFO', 'server'))![1]);
    let client: net.Socket | undefined;
    try {
      expect(await redisCommand(admin, 'CONFIG', 'SET', 'tcp-keepalive', '23')).toBe('+OK\r\n');
      client = await redisConnection();
      expect(await redisCommand(client, 'PING')).toBe('+PONG\r\n'); // accepted and set up by now
      const { report, status } = await settledDoctorJson([
        '--pid',
        String(pid),
        '--port',
        String(client.localPort),
        '--detect-within',
        '60s',
      ]);
      expect(report.processes[0]!.connections).toHaveLength(1);
      expect(report.processes[0]!.connections[0]).toMatchObject({
        local: { port: 6379 },
        remote: { port: client.localPort },
        kernel: { enable: true, idle: 23_000, interval: 7_000, count: 3, userTimeout: 0 },
        timer: { kind: 'keepalive' },
        worstCaseDetection: 44_000,
        verdict: 'at-risk', // Redis cannot set TCP_USER_TIMEOUT: written data to a dead client is retried for ~15 min
      });
      expect(report.processes[0]!.connections[0]!.reasons).toEqual([expect.stringMatching(/^no TCP_USER_TIMEOUT/)]);
      expect(status).toBe(1);
    } finally {
      await redisCommand(admin, 'CONFIG', 'SET', 'tcp-keepalive', before);
      client?.destroy();
      admin.destroy();
    }
  });
});

// Without privilege: the command runs as `nobody` through setpriv; targets are started by this (root) test.
const nobody = 65534;
const systemPython = '/usr/bin/python3';
const unprivilegedMissing =
  process.getuid?.() !== 0
    ? 'must run as root to start processes as nobody and as root'
    : spawnSync('setpriv', ['--version']).status !== 0
      ? 'setpriv (util-linux) is not installed'
      : spawnSync(systemPython, ['--version']).status !== 0
        ? `${systemPython} is not installed`
        : undefined;

interface PythonTarget {
  pid: number;
  sockets: Array<{ name: string; fd: number; localPort: number; remotePort: number }>;
}
const pythonFixture = path.join(__dirname, '..', 'cli', 'fixtures', 'python-target.py');

describeWhen('doctor without privilege', unprivilegedMissing, () => {
  const asNobody = ['setpriv', `--reuid=${nobody}`, `--regid=${nobody}`, '--clear-groups', '--'];

  describe('as nobody, on a root process: its fds cannot be listed', () => {
    let target: Target<PythonTarget>;
    beforeAll(async () => {
      target = await startTarget(systemPython, [pythonFixture]);
    });
    afterAll(() => target?.stop());

    test('why, only what /proc shows (keepalive on/off from the timer, no guessed values), and a summary that counts those rows', () => {
      const configured = target.info.sockets.find((s) => s.name === 'configured')!;
      const untouched = target.info.sockets.find((s) => s.name === 'untouched')!;
      const { report, status } = doctorJson(['--pid', String(target.pid), '--port', `${configured.localPort},${untouched.localPort}`], {
        prefix: asNobody,
      });
      // The summary counts the rows it shows: the untouched socket is at risk (keepalive off, from the timer alone).
      expect(status).toBe(1);
      const process = report.processes[0]!;
      expect(process).toMatchObject({ pid: target.pid, uid: 0, inspected: false, error: { code: 'EACCES' }, connections: [] });
      expect(process.error!.message).toMatch(/not permitted: process \d+ belongs to another user/);
      const rows = process.sameUserSockets;
      const count = (verdict: string) => rows.filter((c) => c.verdict === verdict).length;
      expect(count('at-risk')).toBeGreaterThanOrEqual(1);
      expect(report.summary).toEqual({
        processes: 1,
        connections: rows.length,
        ok: count('ok'),
        atRisk: count('at-risk'),
        unknown: count('unknown'),
        notInspected: 1,
        seenInProcOnly: rows.length,
      });
      const seen = (port: number) => process.sameUserSockets.find((c) => c.local.port === port)!;
      expect(seen(configured.localPort)).toMatchObject({
        fd: null,
        kernel: null,
        keepaliveFromTimer: true,
        timer: { kind: 'keepalive' },
        verdict: 'unknown',
      });
      expect(seen(untouched.localPort)).toMatchObject({ fd: null, kernel: null, keepaliveFromTimer: false, verdict: 'at-risk' });
      const table = runCli(['doctor', '--pid', String(target.pid), '--port', `${configured.localPort},${untouched.localPort}`], {
        prefix: asNobody,
      });
      expect(table.status).toBe(1);
      expect(table.stdout).toContain(`could not inspect: listing the sockets (/proc/${target.pid}/fd): EACCES`);
      const tableRows = table.stdout.split('\n').filter((line) => /^ {2}-\s+\S+\s+\S+\s+established\s/.test(line));
      const atRiskRows = tableRows.filter((line) => / at risk$/.test(line)).length;
      const unknownRows = tableRows.filter((line) => / unknown$/.test(line)).length;
      expect(atRiskRows).toBeGreaterThanOrEqual(1);
      expect(table.stdout).toMatch(
        new RegExp(
          `^${tableRows.length} connections .*: 0 ok, ${atRiskRows} at risk, ${unknownRows} unknown, 1 process not inspected ` +
            `\\(${tableRows.length} of the connections seen in /proc only`,
          'm',
        ),
      );
      expect(table.stdout).not.toMatch(/ 11s /); // the configured idle is never shown: it could not be read
    });
  });

  describe('fds listed but not duplicable (as with ptrace restrictions: Yama ptrace_scope 1)', () => {
    // The target runs as nobody; doctor has nobody's file-system uid (so /proc/PID/fd is readable, a
    // PTRACE_MODE_READ_FSCREDS check) but root's real uid without capabilities (so pidfd_getfd, a
    // PTRACE_MODE_ATTACH_REALCREDS check, is refused with EPERM).
    const readNotAttach = [
      'setpriv',
      '--ruid=0',
      `--euid=${nobody}`,
      `--rgid=${nobody}`,
      `--egid=${nobody}`,
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--',
    ];
    let target: Target<PythonTarget>;
    let elsewhere: net.Server;
    beforeAll(async () => {
      // A listener in this process, so that the target's "external" connection is its only one on that port.
      elsewhere = net.createServer((socket) => socket.on('error', () => undefined));
      await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
      target = await startTarget(systemPython, [pythonFixture, String((elsewhere.address() as net.AddressInfo).port)], asNobody);
    });
    afterAll(async () => {
      target?.stop();
      await new Promise((resolve) => elsewhere?.close(resolve));
    });

    test('says which values it could not read and why; keepalive on/off from the timer', () => {
      const { report, status } = doctorJson(['--pid', String(target.pid)], { prefix: readNotAttach });
      const process = report.processes[0]!;
      expect(process).toMatchObject({ pid: target.pid, uid: nobody, inspected: true, error: null });
      for (const socket of target.info.sockets) {
        const connection = connectionOn(report, target.pid, socket.fd);
        expect(connection).toMatchObject({ kernel: null, tcpInfo: null, unreadable: { code: 'EPERM' } });
        expect(connection.unreadable!.message).toMatch(/pidfd_getfd.*EPERM, not permitted/);
        expect(connection.keepaliveFromTimer).toBe(['configured', 'keepalive-only', 'external'].includes(socket.name));
        if (socket.name === 'keepalive-only') {
          // The kernel's default idle (2 h) is unreadable, but the timer left bounds detection from below: at risk for a fact.
          expect(connection.verdict).toBe('at-risk');
          expect(connection.worstCaseDetectionAtLeast).toBeGreaterThan(sysctl('tcp_keepalive_time') * 1000 - 60_000);
          expect(connection.worstCaseDetectionAtLeast).toBeLessThanOrEqual(sysctl('tcp_keepalive_time') * 1000);
          expect(connection.reasons[0]).toMatch(/^a dead peer is noticed only after .* or more: the keepalive timer fires in/);
        } else {
          expect(connection.verdict).toBe(connection.keepaliveFromTimer ? 'unknown' : 'at-risk');
        }
      }
      expect(status).toBe(1); // keepalive off is known from the timer alone
      const external = target.info.sockets.find((s) => s.name === 'external')!;
      const only = doctorJson(['--pid', String(target.pid), '--port', String(external.remotePort)], { prefix: readNotAttach });
      expect(only.report.summary).toMatchObject({ connections: 1, unknown: 1 });
      expect(only.status).toBe(2); // keepalive on, the rest unreadable: could not judge
      const table = runCli(['doctor', '--pid', String(target.pid), '--port', String(external.remotePort)], { prefix: readNotAttach });
      expect(table.status).toBe(2);
      expect(table.stdout).toMatch(/on \(timer\) +\? +\? +\? +\?/);
      expect(table.stdout).toMatch(/could not read \(fd [\d, ]+\): pidfd_getfd on fd \d+ of pid \d+: EPERM/);
    });

    test('as root, the same process reads fully (the refusal above is the privilege, not the process)', () => {
      const { report } = doctorJson(['--pid', String(target.pid)]);
      const configured = target.info.sockets.find((s) => s.name === 'configured')!;
      expect(connectionOn(report, target.pid, configured.fd).kernel).toEqual({
        enable: true,
        idle: 11_000,
        interval: 3_000,
        count: 5,
        userTimeout: 26_000,
      });
    });
  });
});

const unshareMissing =
  process.getuid?.() !== 0
    ? 'must run as root to create a network namespace (unshare -n)'
    : spawnSync('unshare', ['-n', 'true']).status !== 0
      ? 'unshare -n does not work here (util-linux, CAP_SYS_ADMIN)'
      : spawnSync('ip', ['-V']).status !== 0
        ? 'ip (iproute2) is not installed'
        : undefined;

describeWhen("doctor on a process in another network namespace (as a container's)", unshareMissing, () => {
  let target: Target<PythonTarget & { sockets: Array<{ name: string; fd: number; localPort: number }> }>;
  beforeAll(async () => {
    target = await startTarget('unshare', ['-n', 'sh', '-c', `ip link set lo up && exec ${systemPython} ${pythonFixture}`]);
  });
  afterAll(() => target?.stop());

  test("its connections are found in its namespace's /proc/PID/net/tcp and read exactly", () => {
    const { report } = doctorJson(['--pid', String(target.pid)]);
    const ownNamespace = require('node:fs').readlinkSync('/proc/self/ns/net') as string;
    expect(report.processes[0]!.networkNamespace).not.toBe(ownNamespace);
    const configured = target.info.sockets.find((s) => s.name === 'configured')!;
    expect(connectionOn(report, target.pid, configured.fd).kernel).toEqual({
      enable: true,
      idle: 11_000,
      interval: 3_000,
      count: 5,
      userTimeout: 26_000,
    });
    expect(report.processes[0]!.connections).toHaveLength(target.info.sockets.length);
  });
});
