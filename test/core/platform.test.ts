/** Capabilities and system defaults, compared with what `sysctl` reports. */
import { execFileSync } from 'node:child_process';
import { capabilities, systemDefaults } from '../../src';

test('Linux: every option is supported and read back', () => {
  expect(capabilities).toEqual({
    strategy: 'setsockopt',
    idle: true,
    interval: true,
    count: true,
    userTimeout: true,
    readBack: true,
    tcpInfo: true,
    systemDefaults: true,
    reason: undefined,
  });
});

test('systemDefaults() agrees with sysctl', () => {
  const sysctl = (name: string): number => Number(execFileSync('sysctl', ['-n', name], { encoding: 'utf8' }).trim());
  expect(systemDefaults()).toEqual({
    idle: sysctl('net.ipv4.tcp_keepalive_time') * 1000,
    interval: sysctl('net.ipv4.tcp_keepalive_intvl') * 1000,
    count: sysctl('net.ipv4.tcp_keepalive_probes'),
    retries2: sysctl('net.ipv4.tcp_retries2'),
  });
});
