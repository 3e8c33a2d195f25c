/**
 * Zero-code adoption, from the deployment instead of the source:
 *
 *   NODE_OPTIONS="--require tcp-keepalive/register" TCP_KEEPALIVE="idle=30s,interval=10s,count=3,userTimeout=60s" node app.js
 *   NODE_OPTIONS="--import tcp-keepalive/register"  TCP_KEEPALIVE="path=aws-nlb,detectWithin=60s"        node app.mjs
 *
 * Loading this module is the opt-in: it reads the environment (grammar in
 * ./env.ts and docs/zero-code.md), then installs the process-wide client
 * integration (installKeepalive: diagnostics channels, plus the Socket#connect
 * hook on Node lines that do not publish from it) and, with
 * TCP_KEEPALIVE_SERVER=1, the server policy for every server that listens.
 * A malformed variable stops the process here, before the application runs,
 * with one line on stderr: running unprotected while the operator believes
 * otherwise is the failure this module exists to prevent.
 *
 * The same file serves `--require` and `--import` (Node's ESM loader runs a
 * CommonJS module as such), and loading it twice (both flags, or a require
 * from the application as well) installs once per thread.
 */
import type net from 'node:net';
import { getKeepalive } from '../core/keepalive';
import { type KeepaliveOptions, type KernelPolicy, optionsOf } from '../core/options';
import { checkedPolicy } from '../integrations/connected';
import { type ConnectionTarget, installPolicy, type KeepaliveInstallation } from '../integrations/process-wide';
import type * as ServerModule from '../integrations/server';
import type * as Planner from '../planner';
import type * as EnvironmentTelemetryModule from '../metrics/environment';
import { parseEnvironment, RegisterConfigError, type RegisterConfig } from './env';
import { type MetricsConfig, parseMetricsEnvironment } from './metrics-env';

export interface Registration {
  /** What the environment asked for. */
  readonly config: RegisterConfig;
  readonly clients: KeepaliveInstallation;
  /** TCP_KEEPALIVE_METRICS: what was asked for, and the running telemetry (undefined when off, or in a worker thread with prometheus). */
  readonly metrics: MetricsConfig | undefined;
  readonly telemetry: EnvironmentTelemetryModule.EnvironmentTelemetry | undefined;
  /** Stops configuring new client and server sockets (configured ones keep their policy). */
  uninstall(): void;
}

const REGISTERED = Symbol.for('tcp-keepalive.register');

function describeOptions(options: Readonly<KeepaliveOptions>): string {
  const parts: string[] = [];
  if (options.enable === false) parts.push('enable=false');
  if (options.idle !== undefined) parts.push(`idle=${options.idle / 1000}s`);
  if (options.interval !== undefined) parts.push(`interval=${options.interval / 1000}s`);
  if (options.count !== undefined) parts.push(`count=${options.count}`);
  if (options.userTimeout !== undefined) parts.push(`userTimeout=${options.userTimeout}ms`);
  return parts.join(',');
}

/** What the kernel holds now, read back (debug only: one getsockopt set per logged connection). */
function kernelState(socket: net.Socket): string {
  try {
    const state = getKeepalive(socket);
    return (
      `kernel: keepalive ${state.enable ? 'on' : 'off'}, idle ${state.idle / 1000}s, interval ${state.interval / 1000}s, ` +
      `count ${state.count}, userTimeout ${state.userTimeout}ms`
    );
  } catch (error) {
    return `kernel: unreadable (${(error as { code?: string }).code ?? String(error)})`;
  }
}

/** "peer -> :local" for the log; Node caches these on the socket as it reads them, which a non-extensible socket refuses. */
function endpoints(socket: net.Socket): string {
  try {
    return `${socket.remoteAddress}:${socket.remotePort} -> :${socket.localPort}`;
  } catch {
    return 'a connection whose addresses cannot be read';
  }
}

/** Worker threads load the register entry too (NODE_OPTIONS applies to them), each with its own installation. */
const thread = (require('node:worker_threads') as typeof import('node:worker_threads')).threadId;

function debugLine(text: string): void {
  process.stderr.write(`tcp-keepalive: ${text}${thread === 0 ? '' : ` [worker thread ${thread}]`}\n`);
}

/** Reads the environment and installs; throws RegisterConfigError (or a coded error) on a bad value. */
export function registerFromEnvironment(env: NodeJS.ProcessEnv = process.env): Registration {
  // Validated here, once: clients and servers are given this policy and do not validate it again.
  const checked: { policy?: KernelPolicy } = {};
  const config = parseEnvironment(env, {
    plan: (request) => (require('../planner') as typeof Planner).planKeepalive(request).options,
    check: (options) => {
      checked.policy = checkedPolicy(options);
      return optionsOf(checked.policy);
    },
  });
  const policy = checked.policy;
  if (policy === undefined) throw new Error('tcp-keepalive: the environment was read without its policy being checked');
  const debug = config.debug;
  const metrics = parseMetricsEnvironment(env);
  const telemetry = startMetrics(metrics, debug);
  const clients = installPolicy(policy, config.match, {
    onConfigured: debug
      ? (socket: net.Socket, target: ConnectionTarget) => {
          const name = target.host === target.address ? '' : ` (${target.host})`;
          debugLine(`configured client ${target.address}:${target.port}${name} [${target.channel}]; ${kernelState(socket)}`);
        }
      : undefined,
    onNotApplied: debug
      ? (_socket: net.Socket, target: ConnectionTarget | undefined, reason: string) => {
          const where = target === undefined ? 'a client connection' : `client ${target.address}:${target.port} [${target.channel}]`;
          debugLine(`left unconfigured: ${where}; ${reason}`);
        }
      : undefined,
  });
  const detachServers = config.server
    ? (require('../integrations/server') as typeof ServerModule).attachToEveryServer(
        policy,
        debug
          ? {
              onListener: (server, fd, reason) => {
                const address = server.address();
                const where = typeof address === 'object' && address !== null ? `${address.address}:${address.port}` : String(address);
                debugLine(
                  fd !== undefined
                    ? `server ${where}: listener configured (fd ${fd}); accepted connections inherit the policy`
                    : `server ${where}: accepted connections are configured one by one (${reason ?? 'no listener fd'})`,
                );
              },
              onAccepted: (socket: net.Socket, how: ServerModule.AcceptedHow) => {
                debugLine(
                  `${how === 'inherited' ? 'accepted (inherited from the listener)' : 'accepted and configured'} ` +
                    `${endpoints(socket)}; ${kernelState(socket)}`,
                );
              },
            }
          : {},
      )
    : () => undefined;
  if (debug) {
    const servers = config.server ? 'servers: on' : 'servers: off (TCP_KEEPALIVE_SERVER=1 to configure accepted connections)';
    const hook = clients.hooksSocketConnect ? '; Socket#connect hook installed (this Node line does not publish it)' : '';
    debugLine(
      `policy ${describeOptions(config.options)} from ${config.source}; clients: ` +
        `${env.TCP_KEEPALIVE_MATCH?.trim() ? `matching ${env.TCP_KEEPALIVE_MATCH.trim()}` : 'all'}; ${servers}${hook}`,
    );
  }
  return {
    config,
    clients,
    metrics,
    telemetry,
    uninstall(): void {
      clients.uninstall();
      detachServers();
      telemetry?.stop();
    },
  };
}

/**
 * TCP_KEEPALIVE_METRICS, started before the installations so it follows their first socket. A missing
 * exporter package is a configuration error like a malformed variable. With prometheus, only the main
 * thread serves /metrics (a worker thread cannot listen on the same port); worker threads say so under debug.
 */
function startMetrics(metrics: MetricsConfig | undefined, debug: boolean): EnvironmentTelemetryModule.EnvironmentTelemetry | undefined {
  if (metrics === undefined) return undefined;
  if (metrics.exporter === 'prometheus' && thread !== 0) {
    if (debug)
      debugLine('TCP_KEEPALIVE_METRICS=prometheus: connections of worker threads are not sampled (only the main thread serves /metrics)');
    return undefined;
  }
  const { startFromEnvironment } = require('../metrics/environment') as typeof EnvironmentTelemetryModule;
  try {
    const telemetry = startFromEnvironment(metrics, (line) => process.stderr.write(`tcp-keepalive/register: ${line}\n`));
    if (debug) {
      const where = metrics.exporter === 'otel' ? 'the global MeterProvider' : `/metrics on ${metrics.host ?? ''}:${metrics.port}`;
      debugLine(`telemetry: ${metrics.exporter}, ${where}, every ${metrics.interval / 1000}s on average`);
    }
    return telemetry;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_TCP_KEEPALIVE_MISSING_PEER') {
      throw new RegisterConfigError('TCP_KEEPALIVE_METRICS', (error as Error).message);
    }
    throw error;
  }
}

type Global = typeof globalThis & { [REGISTERED]?: Registration };

/** The registration of this thread (the first load wins; later loads return it). */
export let registration: Registration | undefined = (globalThis as Global)[REGISTERED];

if (registration === undefined) {
  try {
    registration = registerFromEnvironment();
    Object.defineProperty(globalThis, REGISTERED, { value: registration, configurable: true });
  } catch (error) {
    // One line, no stack: this is an operator's configuration mistake, not a bug.
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`tcp-keepalive/register: ${message.replace(/\s+/g, ' ')}\n`);
    process.exit(9); // as Node itself for an invalid argument
  }
}
