'use strict';
// A contender living in another process (the C floor, the Node 26 worker):
// we write "<contender> <calls>\n", it runs them on its own socket and answers
// "<ns per call>\n". One child serves all its contenders, one request at a time.
const { spawn } = require('node:child_process');
const readline = require('node:readline');

const REPLY_TIMEOUT_MS = 60_000;

class RemoteProcess {
  constructor(command, args, label) {
    this.label = label;
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = readline.createInterface({ input: this.child.stdout });
    this.waiting = [];
    this.lines.on('line', (line) => {
      const next = this.waiting.shift();
      if (next) next.resolve(line);
    });
    this.child.on('exit', (code, signal) => {
      for (const next of this.waiting.splice(0)) {
        next.reject(new Error(`${label} exited (code ${code}, signal ${signal}) before answering`));
      }
    });
  }

  request(line) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.label} did not answer "${line}" in ${REPLY_TIMEOUT_MS} ms`)),
        REPLY_TIMEOUT_MS,
      );
      this.waiting.push({
        resolve: (answer) => {
          clearTimeout(timer);
          resolve(answer);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.child.stdin.write(`${line}\n`);
    });
  }

  /** A contender for interleave() that runs `name` in this process. */
  contender(displayName, name, minCalls) {
    return {
      name: displayName,
      minCalls,
      run: async (calls) => {
        const answer = await this.request(`${name} ${calls}`);
        const nsPerCall = Number(answer);
        if (!Number.isFinite(nsPerCall)) throw new Error(`${this.label}: ${name}: ${answer}`);
        return nsPerCall;
      },
    };
  }

  close() {
    this.child.stdin.end();
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    return new Promise((resolve) =>
      this.child.once('exit', () => {
        clearTimeout(killer);
        resolve();
      }),
    ).finally(() => clearTimeout(killer));
  }
}

/**
 * Serves requests from a RemoteProcess on stdin/stdout, in the child.
 * @param {Record<string, (argument: number) => number | string>} handlers a contender returns ns per call
 */
function serveContenders(handlers) {
  const lines = readline.createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const [name, argument] = line.split(' ');
    const handler = handlers[name];
    let answer;
    try {
      answer = handler ? handler(Number(argument)) : `unknown request ${name}`;
    } catch (error) {
      answer = `${name} failed: ${error.message}`;
    }
    process.stdout.write(`${String(answer).replace(/\n/g, ' ')}\n`);
  });
  return new Promise((resolve) => lines.once('close', resolve));
}

module.exports = { RemoteProcess, serveContenders };
