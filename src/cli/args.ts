/**
 * Command-line parsing shared by the subcommands: flags, durations, the path.
 * A user mistake becomes a UsageError: one line on stderr and exit code 64.
 */

/** sysexits.h EX_USAGE: the command was used incorrectly (distinct from 2, "could not inspect"). */
export const EXIT_USAGE = 64;

export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FlagSpec {
  /** Flags that take a value (`--pid 12` or `--pid=12`). */
  values: readonly string[];
  /** Flags that are on or off. */
  switches: readonly string[];
}

export interface ParsedFlags {
  values: Map<string, string>;
  switches: Set<string>;
}

export function parseFlags(argv: readonly string[], spec: FlagSpec, command: string): ParsedFlags {
  const values = new Map<string, string>();
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h') {
      switches.add('help');
      continue;
    }
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}"`, command);
    const equals = arg.indexOf('=');
    const name = arg.slice(2, equals < 0 ? undefined : equals);
    if (spec.switches.includes(name)) {
      if (equals >= 0) throw new UsageError(`--${name} takes no value`, command);
      switches.add(name);
    } else if (spec.values.includes(name)) {
      const value = equals >= 0 ? arg.slice(equals + 1) : argv[++i];
      if (value === undefined || value === '' || (equals < 0 && value.startsWith('--'))) {
        throw new UsageError(`--${name} needs a value`, command);
      }
      if (values.has(name)) throw new UsageError(`--${name} given twice`, command);
      values.set(name, value);
    } else {
      throw new UsageError(`unknown option --${name}`, command);
    }
  }
  return { values, switches };
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "60000", "500ms", "30s", "2m", "1.5h" → ms. A bare number is milliseconds. */
export function parseDuration(flag: string, text: string, command: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  const ms = match ? Math.round(Number(match[1]) * UNIT_MS[match[2] ?? 'ms']!) : NaN;
  if (!(ms > 0) || !Number.isFinite(ms)) {
    throw new UsageError(`--${flag} "${text}" is not a duration: use milliseconds or a number with ms, s, m or h (e.g. 60s, 2m)`, command);
  }
  return ms;
}

/** Decimal digits only: Number() would also take 0x10, 1e3, 0b1 and 1.0, which no one means as an id or a port. */
const DECIMAL = /^\d{1,10}$/;

/** "5432,6379" → [5432, 6379]. */
export function parsePorts(text: string, command: string): number[] {
  return text.split(',').map((part) => {
    const port = Number(part.trim());
    if (!DECIMAL.test(part.trim()) || port < 1 || port > 65535) {
      throw new UsageError(`--port "${part}" is not a port number (1-65535)`, command);
    }
    return port;
  });
}

/** "1234,5678" → [1234, 5678]: decimal process ids (a thread id is resolved to its process by doctor). */
export function parsePids(text: string, command: string): number[] {
  return text.split(',').map((part) => {
    const pid = Number(part.trim());
    if (!DECIMAL.test(part.trim()) || pid < 1 || pid > 2 ** 31 - 1) {
      throw new UsageError(`--pid "${part}" is not a process id (a decimal number, as ps and pgrep print it)`, command);
    }
    return pid;
  });
}

/** A --path hop as the planner takes it. */
export type CliHop = number | string | { preset: string; idleTimeout: number };

/**
 * "aws-nlb", "350s", "aws-nlb,gcp-conntrack", "haproxy=30s": presets by
 * name, idle timeouts as durations, a preset with its configured timeout.
 */
export function parsePath(text: string, presetNames: readonly string[], command: string): CliHop[] {
  return text.split(',').map((part) => {
    const hop = part.trim();
    const [name = '', configured] = hop.split('=');
    if (presetNames.includes(name)) {
      return configured === undefined ? name : { preset: name, idleTimeout: parseDuration('path', configured, command) };
    }
    if (/^\d/.test(hop)) return parseDuration('path', hop, command);
    throw new UsageError(`--path "${hop}" is neither a preset (${presetNames.join(', ')}) nor an idle timeout like 350s`, command);
  });
}
