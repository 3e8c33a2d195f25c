/**
 * http/https Agents whose every socket carries the keepalive policy.
 *
 *   const agent = new KeepaliveHttpsAgent({ keepAlive: true }, { idle: 30_000, interval: 10_000, count: 3 });
 *   https.get(url, { agent });
 *   keepaliveAgent(https.globalAgent, policy);   // or patch an existing agent
 */
import http from 'node:http';
import https from 'node:https';
import type { KeepaliveOptions } from '../core/options';
import { invalidArgType } from '../core/errors';
import { withKeepalive } from './socket-factory';

type AgentWithFactory = http.Agent & { createConnection: http.Agent['createConnection'] };

/**
 * Makes every socket `agent` creates from now on carry the policy, by wrapping
 * this instance's createConnection (both its returning and its callback form,
 * so subclasses and proxy agents that deliver sockets asynchronously are
 * covered). Sockets the agent already holds are left as they are.
 *
 * Agent#keepSocketAlive calls socket.setKeepAlive(true, keepAliveMsecs) each
 * time a socket goes back to the pool — which on libuv resets interval to 1 s
 * and count to 10. The core's per-socket setKeepAlive wrapper re-applies the
 * policy right after, so a pooled socket keeps it (proven in
 * test/integration/http.test.ts). Returns the agent.
 */
export function keepaliveAgent<A extends http.Agent>(agent: A, options?: KeepaliveOptions): A {
  if (!(agent instanceof http.Agent)) throw invalidArgType('agent', 'an instance of http.Agent or https.Agent', agent);
  const target = agent as unknown as AgentWithFactory;
  target.createConnection = withKeepalive(target.createConnection, options);
  return agent;
}

/** An http.Agent (first argument: its usual options) whose sockets carry the keepalive policy. */
export class KeepaliveHttpAgent extends http.Agent {
  constructor(agentOptions?: http.AgentOptions, keepalive?: KeepaliveOptions) {
    super(agentOptions);
    keepaliveAgent(this, keepalive);
  }
}

/** An https.Agent (first argument: its usual options) whose sockets carry the keepalive policy. */
export class KeepaliveHttpsAgent extends https.Agent {
  constructor(agentOptions?: https.AgentOptions, keepalive?: KeepaliveOptions) {
    super(agentOptions);
    keepaliveAgent(this, keepalive);
  }
}
