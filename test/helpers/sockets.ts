/** Real loopback connections for tests; every one is closed by closeAll(). */
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';

const opened: Array<net.Socket | net.Server> = [];

export function track<T extends net.Socket | net.Server>(thing: T): T {
  opened.push(thing);
  return thing;
}

/**
 * Sockets first (server.close() waits for its connections), newest first: Node
 * 20.20 segfaults in TLSWrap when a raw socket is destroyed before the TLS
 * socket upgraded over it (reproduced without this library).
 */
export async function closeAll(): Promise<void> {
  const things = opened.splice(0).reverse();
  for (const thing of things) if (!(thing instanceof net.Server)) thing.destroy();
  await Promise.all(
    things
      .filter((thing): thing is net.Server => thing instanceof net.Server)
      .map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
  );
}

export interface Connection {
  client: net.Socket;
  /** The server's accepted socket for this client. */
  accepted: net.Socket;
  server: net.Server;
  port: number;
}

export async function listen(host = '127.0.0.1', server: net.Server = net.createServer()): Promise<{ server: net.Server; port: number }> {
  track(server);
  server.on('connection', (socket) => track(socket));
  server.listen(0, host);
  await once(server, 'listening');
  return { server, port: (server.address() as net.AddressInfo).port };
}

export async function connection(host = '127.0.0.1'): Promise<Connection> {
  const { server, port } = await listen(host);
  const acceptedPromise = once(server, 'connection');
  const client = track(net.connect(port, host));
  await once(client, 'connect');
  const [accepted] = (await acceptedPromise) as [net.Socket];
  return { client, accepted, server, port };
}

export function ipv6Available(): boolean {
  const interfaces = require('node:os').networkInterfaces() as Record<string, Array<{ family: string; address: string }>>;
  return Object.values(interfaces).some((list) => list.some((entry) => entry.address === '::1'));
}

/** A TLS server with a throwaway self-signed certificate from the test fixtures. */
export async function tlsServer(key: string, cert: string): Promise<{ server: tls.Server; port: number }> {
  const server = tls.createServer({ key, cert }, (socket) => {
    track(socket);
    socket.on('error', () => {});
  });
  const { port } = await listen('127.0.0.1', server);
  return { server, port };
}
