/**
 * Client and server integrations: one line per client. See docs/integrations.md.
 */
export { withKeepalive } from './socket-factory';
export { keepaliveAgent, KeepaliveHttpAgent, KeepaliveHttpsAgent } from './agent';
export { keepaliveConnector, type UndiciConnector, type ConnectorCallback } from './undici';
export {
  installKeepalive,
  type InstallOptions,
  type ConnectionFilter,
  type ConnectionTarget,
  type KeepaliveInstallation,
  type InstallationCounts,
} from './process-wide';
export { keepaliveServer } from './server';
export { keepaliveOnEvent } from './event';
