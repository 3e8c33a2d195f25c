export { configureKeepalive, getKeepalive, type KeepaliveState } from './core/keepalive';
export type { KeepaliveOptions } from './core/options';
export { capabilities, systemDefaults, type Capabilities, type SystemDefaults } from './core/platform';
