/** TCP_KEEPALIVE_METRICS and TCP_KEEPALIVE_METRICS_INTERVAL: what operators write, and one line for everything else. */
import { RegisterConfigError } from '../../src/register/env';
import { parseMetricsEnvironment } from '../../src/register/metrics-env';

function errorOf(env: NodeJS.ProcessEnv): string {
  try {
    parseMetricsEnvironment(env);
  } catch (error) {
    expect(error).toBeInstanceOf(RegisterConfigError);
    expect((error as Error).message).not.toContain('\n');
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

test('unset, empty, 0 or off: no telemetry', () => {
  for (const value of [undefined, '', ' ', '0', 'off']) expect(parseMetricsEnvironment({ TCP_KEEPALIVE_METRICS: value })).toBeUndefined();
});

test('otel, prometheus with the default port, a port, a host and port; the interval defaults to 60 s', () => {
  expect(parseMetricsEnvironment({ TCP_KEEPALIVE_METRICS: 'otel' })).toEqual({
    exporter: 'otel',
    port: 0,
    host: undefined,
    interval: 60_000,
  });
  expect(parseMetricsEnvironment({ TCP_KEEPALIVE_METRICS: 'prometheus' })).toEqual({
    exporter: 'prometheus',
    port: 9464,
    host: undefined,
    interval: 60_000,
  });
  expect(parseMetricsEnvironment({ TCP_KEEPALIVE_METRICS: 'prometheus:9100', TCP_KEEPALIVE_METRICS_INTERVAL: '15s' })).toEqual({
    exporter: 'prometheus',
    port: 9100,
    host: undefined,
    interval: 15_000,
  });
  expect(parseMetricsEnvironment({ TCP_KEEPALIVE_METRICS: 'prometheus:127.0.0.1:9100' })).toMatchObject({ host: '127.0.0.1', port: 9100 });
  expect(parseMetricsEnvironment({ TCP_KEEPALIVE_METRICS: 'prometheus:[::1]:9100' })).toMatchObject({ host: '::1', port: 9100 });
});

test.each([
  [
    { TCP_KEEPALIVE_METRICS: 'statsd' },
    'TCP_KEEPALIVE_METRICS: "statsd" is not an exporter (otel, prometheus, prometheus:9464 or prometheus:127.0.0.1:9464)',
  ],
  [{ TCP_KEEPALIVE_METRICS: 'prometheus:99999' }, 'TCP_KEEPALIVE_METRICS: "prometheus:99999": "99999" is not a port (1-65535)'],
  [{ TCP_KEEPALIVE_METRICS: 'prometheus:a b:80' }, 'TCP_KEEPALIVE_METRICS: "prometheus:a b:80": "a b" is not a host name or address'],
  [
    { TCP_KEEPALIVE_METRICS: 'otel', TCP_KEEPALIVE_METRICS_INTERVAL: '1h' },
    'TCP_KEEPALIVE_METRICS_INTERVAL: "1h": "1h" is not a duration (a number of ms, or with a unit: 500ms, 30s, 2m)',
  ],
  [
    { TCP_KEEPALIVE_METRICS: 'otel', TCP_KEEPALIVE_METRICS_INTERVAL: '50ms' },
    'TCP_KEEPALIVE_METRICS_INTERVAL: "50ms" is out of range (100ms to 2147483647ms)',
  ],
  [
    { TCP_KEEPALIVE_METRICS_INTERVAL: '10s' },
    'TCP_KEEPALIVE_METRICS_INTERVAL: is set but TCP_KEEPALIVE_METRICS is not (set it to otel or prometheus:9464)',
  ],
])('%j: %s', (env, message) => {
  expect(errorOf(env)).toBe(message);
});

test('a missing exporter package stops the register entry with one line naming the variable and the package', () => {
  jest.isolateModules(() => {
    jest.doMock('prom-client', () => {
      throw Object.assign(new Error("Cannot find module 'prom-client' from 'src/metrics/environment.ts'"), { code: 'MODULE_NOT_FOUND' });
    });
    // Required inside isolateModules so that registering from this environment sees the mock; nothing is installed
    // when it throws (telemetry is started before the installations).
    (globalThis as Record<symbol, unknown>)[Symbol.for('tcp-keepalive.register')] = { config: {} };
    try {
      const { registerFromEnvironment } = require('../../src/register') as typeof import('../../src/register');
      let message = '';
      try {
        registerFromEnvironment({ TCP_KEEPALIVE_METRICS: 'prometheus:9464' });
      } catch (error) {
        expect(error).toBeInstanceOf(require('../../src/register/env').RegisterConfigError);
        message = (error as Error).message;
      }
      expect(message).toBe(
        'TCP_KEEPALIVE_METRICS: TCP_KEEPALIVE_METRICS=prometheus needs the package prom-client, which is not installed: npm install prom-client',
      );
    } finally {
      delete (globalThis as Record<symbol, unknown>)[Symbol.for('tcp-keepalive.register')];
      jest.dontMock('prom-client');
    }
  });
});
