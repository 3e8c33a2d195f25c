/**
 * The command line in-process: `main(argv, io)` with an Io that records what is written, for the paths that
 * need no other process (help, usage errors, version, plan), and doctor's gather step against real sockets
 * of this process. The child-process tests (doctor.test.ts) show the same command as a user runs it.
 */
import net from 'node:net';
import { main } from '../../src/cli/main';
import { gatherDoctor } from '../../src/cli/doctor-gather';
import { configureKeepalive } from '../../src';
import { EXIT_USAGE } from '../../src/cli/args';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(argv: readonly string[], options: { isTTY?: boolean; env?: NodeJS.ProcessEnv } = {}): Run {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: { write: (text: string) => (stdout += text), isTTY: options.isTTY },
    stderr: { write: (text: string) => (stderr += text) },
    env: options.env ?? {},
  };
  const code = main(argv, io);
  return { code, stdout, stderr };
}

describe('main', () => {
  test('no command: the help on stderr, usage exit', () => {
    const result = run([]);
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^Usage: tcp-keepalive <command> \[options\]\n/);
  });

  test.each(['help', '--help', '-h'])('%s: the help on stdout', (flag) => {
    const result = run([flag]);
    expect(result).toEqual({ code: 0, stdout: expect.stringContaining('Commands:\n  doctor'), stderr: '' });
  });

  test('--version prints the package version', () => {
    expect(run(['--version'])).toEqual({ code: 0, stdout: `${require('../../package.json').version}\n`, stderr: '' });
  });

  test('an unknown command is a usage error that points at the help', () => {
    expect(run(['docter'])).toEqual({
      code: EXIT_USAGE,
      stdout: '',
      stderr: 'tcp-keepalive: unknown command "docter" (commands: doctor, plan) (see tcp-keepalive --help)\n',
    });
  });

  test('anything but a usage error is not swallowed', () => {
    const io = {
      stdout: {
        write: () => {
          throw new Error('stdout is gone');
        },
      },
      stderr: { write: () => undefined },
      env: {},
    };
    expect(() => main(['--help'], io)).toThrow('stdout is gone');
  });
});

describe('plan', () => {
  test('--help', () => {
    expect(run(['plan', '--help']).stdout).toMatch(/^Usage: tcp-keepalive plan /);
  });

  test('a path and a budget: the plan as people read it', () => {
    const result = run(['plan', '--path', 'aws-nlb', '--detect-within', '60s']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Plan for path aws-nlb, a dead peer noticed within 1m:\n/);
    expect(result.stdout).toContain('configureKeepalive(socket, { idle: ');
    expect(result.stdout).toContain('limiting hop: AWS Network Load Balancer, idle timeout 5m50s');
  });

  test('no path: the detection budget alone, and a note saying so', () => {
    const result = run(['plan']);
    expect(result.stdout).toMatch(/^Plan with no --path, a dead peer noticed within 2m:\n/);
    expect(result.stdout).toContain('- no --path given');
    expect(result.stdout).toContain('limiting hop: none');
  });

  test('--json with every option, and never for the stall tolerance', () => {
    const result = run([
      'plan',
      '--path',
      '300s',
      '--detect-within',
      '90000',
      '--count',
      '4',
      '--margin',
      '0.25',
      '--stall-tolerance',
      'never',
      '--json',
    ]);
    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout);
    expect(plan.schema).toBe('tcp-keepalive.plan/1');
    expect(plan.request).toEqual({ path: [300_000], detectWithin: 90_000, count: 4, margin: 0.25, stallTolerance: null });
    expect(plan.options.userTimeout).toBe(0);
    expect(plan.times.survivableStall).toBeNull();
    expect(plan.setsockopt.TCP_USER_TIMEOUT).toBe(0);
  });

  test('a stall tolerance: the text says when a stalled live peer is cut off', () => {
    const result = run(['plan', '--stall-tolerance', '5m']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/live peer that stops reading: connection ended after a \d/);
  });

  test('--presets as a table and as JSON', () => {
    const text = run(['plan', '--presets']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^PRESET\s+IDLE TIMEOUT\s+PROBES KEEP IT OPEN\s+WHAT\n/);
    expect(text.stdout).toContain('aws-nlb');
    expect(text.stdout).toContain('\nSources:\n');
    const json = JSON.parse(run(['plan', '--presets', '--json']).stdout);
    expect(json.schema).toBe('tcp-keepalive.presets/1');
    expect(json.presets.map((p: { name: string }) => p.name)).toContain('aws-nlb');
  });

  test('colour only on a terminal without NO_COLOR', () => {
    expect(run(['plan'], { isTTY: true }).stdout).toContain('\u001b[1m');
    expect(run(['plan'], { isTTY: true, env: { NO_COLOR: '1' } }).stdout).not.toContain('\u001b[');
    expect(run(['plan']).stdout).not.toContain('\u001b[');
  });

  test.each([
    [['plan', '--presets', '--path', 'aws-nlb'], '--presets takes no other options but --json'],
    [['plan', '--count', '0'], '--count "0" must be a whole number from 1 to 127'],
    [['plan', '--count', 'x'], '--count "x" must be a whole number from 1 to 127'],
    [['plan', '--margin', '1.5'], '--margin "1.5" must be a fraction from 0 to below 1'],
    [['plan', '--stall-tolerance', 'forever'], '--stall-tolerance "forever" is neither a duration'],
    [['plan', '--path', 'nowhere'], 'nowhere'],
    [['plan', '--bogus'], 'bogus'],
  ])('%j is a usage error', (argv, message) => {
    const result = run(argv);
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^tcp-keepalive plan: /);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toMatch(/\(see tcp-keepalive plan --help\)\n$/);
  });

  test('a budget the path cannot meet is a usage error from the planner', () => {
    const result = run(['plan', '--detect-within', '1s']);
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.stderr).toMatch(/^tcp-keepalive plan: /);
  });
});

describe('doctor', () => {
  test('--help', () => {
    expect(run(['doctor', '--help'])).toEqual({ code: 0, stdout: expect.stringMatching(/^Usage: tcp-keepalive doctor --pid/), stderr: '' });
  });

  test.each([
    [['doctor'], 'give --pid <pid> or --all'],
    [['doctor', '--pid', '1', '--all'], '--pid and --all exclude each other'],
    [['doctor', '--pid', 'abc'], '--pid "abc" is not a process id'],
    [['doctor', '--pid', '1', '--port', '70000'], '70000'],
    [['doctor', '--pid', '1', '--detect-within', 'soon'], 'soon'],
    [['doctor', '--pid', '1', '--stall-tolerance', 'forever'], '--stall-tolerance "forever"'],
    [['doctor', '--pid', '1', '--watch', '10ms'], '--watch "10ms" is too short'],
  ])('%j is a usage error', (argv, message) => {
    const result = run(argv);
    expect(result.code).toBe(EXIT_USAGE);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toMatch(/\(see tcp-keepalive doctor --help\)\n$/);
  });
});

const onLinux = process.platform === 'linux' ? describe : describe.skip;

onLinux('doctor in-process, on this process', () => {
  let server: net.Server;
  let client: net.Socket;
  let accepted: net.Socket;

  beforeAll(async () => {
    server = net.createServer();
    const acceptedNow = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await new Promise((resolve) => client.once('connect', resolve));
    accepted = await acceptedNow;
    configureKeepalive(client, { idle: 20_000, interval: 5_000, count: 3, userTimeout: 35_000 });
  });

  afterAll(async () => {
    client.destroy();
    accepted.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  test('gather reads what was set on a socket of this process, and what the other end holds', () => {
    const [gathered] = gatherDoctor([process.pid], { ports: [client.localPort!], all: false });
    expect(gathered!.inspected).toBe(true);
    expect(gathered!.listening).toBeGreaterThanOrEqual(1); // listening sockets are counted whatever --port says
    const ours = gathered!.connections.find((c) => c.row.local.port === client.localPort);
    const theirs = gathered!.connections.find((c) => c.row.remote.port === client.localPort);
    expect(ours?.kernel).toEqual({ enable: true, idle: 20_000, interval: 5_000, count: 3, userTimeout: 35_000 });
    expect(ours?.fd).toBe((client as unknown as { _handle: { fd: number } })._handle.fd);
    expect(ours?.unreadable).toBeNull();
    expect(theirs?.kernel?.enable).toBe(false);
    expect(ours?.row.state).toBe('established');
  });

  test('a pid that is no process: not inspected, and why', () => {
    const [gathered] = gatherDoctor([2 ** 31 - 2], { ports: null, all: false });
    expect(gathered).toMatchObject({ inspected: false, error: { code: 'ENOENT' }, connections: [] });
  });

  test('main doctor --pid on this process: a table, the plan, exit 1 for the end without keepalive', () => {
    const result = run(['doctor', '--pid', String(process.pid), '--port', String(client.localPort)]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`127.0.0.1:${client.localPort}`);
    expect(result.stdout).toContain('To fix what is at risk:');
  });

  test('main doctor --json --all: this process is left out of --all, the JSON parses', () => {
    const result = run(['doctor', '--all', '--port', String(client.localPort), '--json']);
    const report = JSON.parse(result.stdout);
    expect(report.schema).toBe('tcp-keepalive.doctor/1');
    expect(report.processes.map((p: { pid: number }) => p.pid)).not.toContain(process.pid);
  });
});
