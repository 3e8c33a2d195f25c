/**
 * `tcp-keepalive doctor --pid N --watch <interval>`: the flag's parsing, one
 * redraw from a report, and the command itself (dist/cli/main.js in a child)
 * redrawing this process's connection until it is stopped.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { UsageError } from '../../src/cli/args';
import type { DoctorReport } from '../../src/cli/doctor';
import { styleFor } from '../../src/cli/format';
import { drawWatch, splitWatch } from '../../src/cli/watch';
import { assertCliBuilt, cliPath } from './support';

jest.setTimeout(30_000);

const plain = styleFor({ isTTY: false }, {});

describe('--watch', () => {
  test('splits the interval out of doctor’s arguments', () => {
    expect(splitWatch(['--pid', '12', '--watch', '2s'])).toEqual({ intervalMs: 2000, rest: ['--pid', '12'] });
    expect(splitWatch(['--watch=500ms', '--pid', '12'])).toEqual({ intervalMs: 500, rest: ['--pid', '12'] });
    expect(splitWatch(['--pid', '12'])).toBeUndefined();
  });

  test.each([
    [['--pid', '1', '--watch'], /--watch needs an interval/],
    [['--pid', '1', '--watch', '2x'], /--watch "2x" is not a duration/],
    [['--pid', '1', '--watch', '50ms'], /too short: 100ms or more/],
    [['--pid', '1', '--watch', '2s', '--watch', '3s'], /--watch given twice/],
    [['--pid', '1', '--watch', '2s', '--json'], /--json prints one report/],
  ])('%j is a usage error', (argv, message) => {
    expect(() => splitWatch(argv)).toThrow(UsageError);
    expect(() => splitWatch(argv)).toThrow(message);
  });

  test('a redraw shows the RTT, the segments retransmitted since the previous redraw and the verdict', () => {
    const connection = (total: number) => ({
      fd: 21,
      inode: 9,
      local: { address: '10.0.0.1', port: 40000 },
      remote: { address: '10.0.0.2', port: 5432 },
      state: 'established',
      tcpInfo: { rtt: 0.25, totalRetransmits: total, unacked: 2 },
      timer: { kind: 'retransmit', expiresIn: 400, probes: 0, retransmits: 1 },
      verdict: 'at-risk',
    });
    const report = (total: number) =>
      ({
        processes: [{ pid: 7, command: 'node\napp.js', inspected: true, error: null, connections: [connection(total)] }],
        summary: { connections: 1, ok: 0, atRisk: 1, unknown: 0 },
      }) as unknown as DoctorReport;
    const previous = new Map<string, number>();
    const first = drawWatch(report(3), previous, plain);
    expect(first).toContain('pid 7: node app.js');
    expect(first).toMatch(/21 +10\.0\.0\.1:40000 +10\.0\.0\.2:5432 +established +0\.250 ms +3 \(total\) +2 +on,0\.4s,1 +at risk/);
    expect(drawWatch(report(8), previous, plain)).toMatch(/0\.250 ms +\+5 +2/);
    expect(drawWatch(report(8), previous, plain)).toMatch(/0\.250 ms +0 +2/);
  });

  const onLinux = process.platform === 'linux' ? test : test.skip;
  onLinux('the command redraws every interval until stopped', async () => {
    assertCliBuilt();
    const server = net.createServer((socket) => socket.resume()).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await once(client, 'connect');
    client.write('hello');
    const child = spawn(
      process.execPath,
      [cliPath, 'doctor', '--pid', String(process.pid), '--port', String(client.localPort), '--watch', '300ms'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    try {
      const deadline = Date.now() + 15_000;
      while ((output.match(/every 0\.3s/g) ?? []).length < 3 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50));
      expect((output.match(/every 0\.3s/g) ?? []).length).toBeGreaterThanOrEqual(3);
      const redraws = output.split('tcp-keepalive doctor, every').slice(1);
      expect(redraws[0]).toMatch(new RegExp(`127\\.0\\.0\\.1:${client.localPort} .* established +\\d+\\.\\d+ ms +0 \\(total\\)`));
      expect(redraws[1]).toMatch(new RegExp(`127\\.0\\.0\\.1:${client.localPort} .* established +\\d+\\.\\d+ ms +0 `));
      expect(child.exitCode).toBeNull(); // still watching
    } finally {
      child.kill();
      client.destroy();
      server.close();
    }
  });
});
