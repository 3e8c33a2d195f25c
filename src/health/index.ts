/** Connection health from the kernel's TCP_INFO: see docs/health.md. */
export { tcpInfo, type TcpInfo, type TcpState } from './tcp-info';
export { connectionHealth, type ConnectionHealth, type HealthReason, type HealthThresholds, type HealthVerdict } from './connection-health';
export { DEAD_CHANNEL, type DeadConnectionMessage, type DeathCause } from './dead-channel';
