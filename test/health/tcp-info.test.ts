/**
 * tcpInfo() against `ss -tinoe` for the same connection (iproute2 reads the
 * kernel over inet_diag netlink, not through our addon), and its socket rules.
 */
import { once } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import path from 'node:path';
import { ssInfoFor } from '../../lab/ss-info';
import { tcpInfo } from '../../src/health';
import { closeAll, connection, tlsServer, track } from '../helpers/sockets';
import { selfSignedCertificate } from '../helpers/tls-cert';
import { eventually } from '../helpers/wait';

afterEach(closeAll);

const linux = process.platform === 'linux';
const onLinux = linux ? test : test.skip;

/** ss prints rtt and rttvar as %.3f of the kernel's µs: ours must round to the same. */
function expectSsMs(ours: number | undefined, ss: number | undefined): void {
  expect(ours).toBeDefined();
  expect(Math.abs(ours! - (ss ?? 0))).toBeLessThanOrEqual(0.0005 + 1e-9);
}

/** A time-since field read before and after ss: ss's value must lie between our two reads (1 ms for rounding). */
function expectBetween(before: number | undefined, ss: number | undefined, after: number | undefined): void {
  expect(ss).toBeDefined();
  expect(ss!).toBeGreaterThanOrEqual(before! - 1);
  expect(ss!).toBeLessThanOrEqual(after! + 1);
}

describe('tcpInfo', () => {
  onLinux('agrees with ss -tinoe on rtt, rto, unacked, retrans, lastsnd, lastrcv, lastack and the byte counters', async () => {
    const { client, accepted } = await connection();
    accepted.on('data', (chunk: Buffer) => accepted.write(chunk));
    for (let round = 0; round < 5; round++) {
      client.write('x'.repeat(1000));
      await once(client, 'data');
    }
    // Past the delayed-ACK timeout since the last data arrived, the client owes no ACK: only the clocks move between the reads.
    await eventually(2000, 'the delayed ACK to be sent', () => {
      const info = tcpInfo(client);
      return info.lastDataReceived! > info.ato! + 20 || undefined;
    });
    const before = tcpInfo(client);
    const ss = ssInfoFor(client.localPort!, client.remotePort!);
    const after = tcpInfo(client);
    expect(ss).toBeDefined();
    const f = ss!.fields;
    expect(before.state).toBe('established');
    expect(ss!.state).toBe('ESTAB');
    expectSsMs(after.rtt, f.rtt);
    expectSsMs(after.rttVariance, f.rttvar);
    expect(after.rto).toBe(f.rto);
    expect(after.ato).toBe(f.ato);
    expect(after.unacked).toBe(f.unacked ?? 0); // ss leaves out zero counters
    expect(after.retransOut).toBe(f.retransOut ?? 0);
    expect(after.totalRetransmits).toBe(f.totalRetrans ?? 0);
    expectBetween(before.lastDataSent, f.lastsnd, after.lastDataSent);
    expectBetween(before.lastDataReceived, f.lastrcv, after.lastDataReceived);
    expectBetween(before.lastAckReceived, f.lastack, after.lastAckReceived);
    expect(after.bytesSent).toBe(f.bytes_sent);
    expect(after.bytesAcked).toBe(f.bytes_acked);
    expect(after.bytesReceived).toBe(f.bytes_received);
    expect(after.segmentsOut).toBe(f.segs_out);
    expect(after.segmentsIn).toBe(f.segs_in);
    expect(after.sendCwnd).toBe(f.cwnd);
    expect(after.sendMss).toBe(f.mss);
    expect(after.receiveMss).toBe(f.rcvmss);
    expect(after.pmtu).toBe(f.pmtu);
    expectSsMs(after.minRtt, f.minrtt);
    expect(after.receiveSpace).toBe(f.rcv_space);
    expect(after.sendWindow).toBe(f.snd_wnd);
    // What the test itself did: 5 × 1000 bytes each way.
    expect(after.bytesSent).toBe(5000);
    expect(after.bytesReceived).toBe(5000);
    expect(after.probes).toBe(0);
    expect(after.retransmits).toBe(0);
  });

  onLinux('names the state: close-wait once the peer has closed and the application has not read the end', async () => {
    const { client, accepted } = await connection();
    // Fill the client's readable buffer past its high-water mark so Node stops reading the socket;
    // the rest stays in the kernel, with the FIN behind it.
    client.pause();
    accepted.write(Buffer.alloc(100 * 1024));
    accepted.end();
    await eventually(2000, 'the kernel to hold close-wait', () => tcpInfo(client).state === 'close-wait' || undefined);
    const ended = jest.fn();
    client.on('end', ended);
    const info = tcpInfo(client);
    expect(info.state).toBe('close-wait');
    expect(ssInfoFor(client.localPort!, client.remotePort!)?.state).toBe('CLOSE-WAIT');
    expect(ended).not.toHaveBeenCalled();
  });

  onLinux('reports a field the platform lacks as undefined, never NaN, and allocates a fresh object per call', async () => {
    const { client } = await connection();
    const first = tcpInfo(client);
    const second = tcpInfo(client);
    expect(first).not.toBe(second);
    for (const [name, value] of Object.entries(first)) {
      if (typeof value === 'number') expect(Number.isNaN(value)).toBe(false);
      else if (name !== 'state') expect(value).toBeUndefined();
    }
    expect(first.sendQueue).toBeUndefined(); // macOS only
  });

  onLinux("reads a TLS socket's TCP connection (through the TLS wrap), the same one ss shows", async () => {
    const { key, cert } = selfSignedCertificate();
    const { port } = await tlsServer(key, cert);
    const secure = track(tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }));
    await once(secure, 'secureConnect');
    const info = tcpInfo(secure);
    const ss = ssInfoFor(secure.localPort!, secure.remotePort!);
    expect(info.state).toBe('established');
    expect(info.bytesReceived).toBe(ss?.fields.bytes_received);
    expect(info.bytesReceived).toBeGreaterThan(0); // the handshake went over it
  });

  test('refuses what is not a connected socket it owns, with the same errors as getKeepalive', async () => {
    expect(() => tcpInfo({} as net.Socket)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => tcpInfo(undefined as unknown as net.Socket)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    const { client, port } = await connection();
    client.destroy();
    expect(() => tcpInfo(client)).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_CLOSED' }));
    const connecting = track(net.connect(port, '127.0.0.1'));
    expect(() => tcpInfo(connecting)).toThrow(expect.objectContaining({ code: 'ENOTCONN' }));
    await once(connecting, 'connect');
    expect(tcpInfo(connecting).state).toBe('established');
  });

  onLinux('a Unix-domain socket is refused by the kernel with a coded error naming TCP_INFO', async () => {
    const file = path.join(os.tmpdir(), `tcpka-health-${process.pid}.sock`);
    const server = track(net.createServer((socket) => track(socket)));
    server.listen(file);
    await once(server, 'listening');
    const client = track(net.connect(file));
    await once(client, 'connect');
    let error: (Error & { code?: string; syscall?: string; option?: string }) | undefined;
    try {
      tcpInfo(client);
    } catch (caught) {
      error = caught as typeof error;
    }
    expect(error).toBeDefined();
    expect(error!.code).toMatch(/^E[A-Z]+$/);
    expect(error!.message).toContain('TCP_INFO');
  });
});
