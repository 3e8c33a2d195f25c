/**
 * The keepalive policy the kernel holds for an fd, as the kernel timer model
 * takes it (src/core/kernel-timers.ts). Read with getsockopt, not taken from
 * what configureKeepalive was asked: anyone may have changed the socket since,
 * and the kernel acts on what it holds.
 */
import type { TimerPolicy } from '../core/kernel-timers';
import { addon } from '../native/load';

/** What the kernel holds for `fd`, in ms; undefined where it cannot be read (no addon, a platform without the options, a failed getsockopt). */
export function heldTimerPolicy(fd: number): TimerPolicy | undefined {
  const native = addon();
  if (native === undefined || fd < 0 || native.read(fd) !== undefined) return undefined;
  const [, idleSeconds, intervalSeconds, count, userTimeout] = native.keepaliveValues;
  if (idleSeconds! < 0 || intervalSeconds! < 0 || count! < 0 || userTimeout! < 0) return undefined;
  return { idle: idleSeconds! * 1000, interval: intervalSeconds! * 1000, count: count!, userTimeout: userTimeout! };
}
