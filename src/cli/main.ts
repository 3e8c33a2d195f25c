#!/usr/bin/env node
/**
 * The `tcp-keepalive` command. Each subcommand is loaded only when it runs, so
 * `plan` never loads the native addon and neither loads the client integrations.
 */
import { EXIT_USAGE, UsageError } from './args';
import type { Io } from './io';

export type { Io } from './io';

const HELP = `Usage: tcp-keepalive <command> [options]

Commands:
  doctor   what the kernel holds for a process's TCP connections (keepalive, idle, interval,
           count, TCP_USER_TIMEOUT, the live timer), judged against your path and budget
  plan     keepalive values for a network path and a detection budget

  tcp-keepalive doctor --pid 1234 --path aws-nlb --detect-within 60s
  tcp-keepalive plan --path aws-nlb --detect-within 60s
  tcp-keepalive <command> --help

Exit codes: 0 ok, 1 some connection at risk, 2 could not inspect, 64 usage error.`;

/** Runs the command line `argv` (without node and the script); resolves to the exit code. */
export function main(argv: readonly string[], io: Io): number {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'doctor': {
        const { runDoctor } = require('./doctor') as typeof import('./doctor');
        if (rest.some((arg) => arg === '--watch' || arg.startsWith('--watch='))) {
          return (require('./watch') as typeof import('./watch')).runDoctorWatch(rest, io, runDoctor);
        }
        return runDoctor(rest, io);
      }
      case 'plan':
        return (require('./plan') as typeof import('./plan')).runPlan(rest, io);
      case undefined:
        io.stderr.write(`${HELP}\n`);
        return EXIT_USAGE;
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(`${HELP}\n`);
        return 0;
      case '--version':
        io.stdout.write(`${(require('../../package.json') as { version: string }).version}\n`);
        return 0;
      default:
        throw new UsageError(`unknown command "${command}" (commands: doctor, plan)`);
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    const help = error.command === undefined ? 'tcp-keepalive --help' : `tcp-keepalive ${error.command} --help`;
    io.stderr.write(`tcp-keepalive${error.command === undefined ? '' : ` ${error.command}`}: ${error.message} (see ${help})\n`);
    return EXIT_USAGE;
  }
}

if (require.main === module) {
  // `tcp-keepalive doctor --all | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? 0);
  });
  let code: number;
  try {
    code = main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
  } catch (error) {
    // Not a user mistake: a bug or an environment we did not foresee. Show all of it.
    process.stderr.write(`tcp-keepalive: internal error, please report it:\n${(error as Error)?.stack ?? String(error)}\n`);
    code = 70; // EX_SOFTWARE
  }
  // process.exitCode, not process.exit(): a large --json report on a pipe is flushed first.
  process.exitCode = code;
}
