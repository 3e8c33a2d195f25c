/** MQTT.js on the local Mosquitto: keepaliveOnEvent on 'connect' (client.stream is a new socket on each reconnect). */
import net from 'node:net';
import mqtt from 'mqtt';
import { getKeepalive } from '../../src';
import { keepaliveOnEvent } from '../../src/integrations';
import { describeService, expectConfigured, POLICY, within } from './support';

// The waits inside are bounded by within() and eventually() (10-15 s); the test limit sits above them, so a
// slow service fails naming what was awaited, not by abandoning the test body with its clients still open.
jest.setTimeout(30_000);

const MQTT_PORT = 1883;

function socketOf(client: mqtt.MqttClient): net.Socket {
  return client.stream as unknown as net.Socket;
}

function connected(client: mqtt.MqttClient): Promise<void> {
  return new Promise((resolve) => client.once('connect', () => resolve()));
}

describeService('mqtt on Mosquitto 127.0.0.1:1883', MQTT_PORT, () => {
  const clients: mqtt.MqttClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.endAsync(true);
  });

  function client(): mqtt.MqttClient {
    // keepalive: 0 — MQTT's own PINGREQ off: TCP keepalive alone keeps the connection honest.
    const created = mqtt.connect(`mqtt://127.0.0.1:${MQTT_PORT}`, { keepalive: 0, reconnectPeriod: 50, connectTimeout: 5000 });
    created.on('error', () => undefined);
    clients.push(created);
    return created;
  }

  test('control: an MQTT.js socket has SO_KEEPALIVE off (MQTT.js never sets TCP keepalive)', async () => {
    const plain = client();
    await within(10_000, 'mqtt connect', connected(plain));
    expect(getKeepalive(socketOf(plain)).enable).toBe(false);
  });

  test('configured after connect, after a publish round trip, and after a reconnect', async () => {
    const subscriber = client();
    keepaliveOnEvent(subscriber, 'connect', (c) => c.stream, POLICY);
    await within(10_000, 'mqtt connect', connected(subscriber));
    const first = socketOf(subscriber);
    expectConfigured(first);

    const topic = `tcp-keepalive/test/${process.pid}/${Date.now()}`;
    await subscriber.subscribeAsync(topic);
    const received = new Promise<string>((resolve) => subscriber.once('message', (_t, payload) => resolve(payload.toString())));
    await subscriber.publishAsync(topic, 'hello', { qos: 1 });
    expect(await within(5000, 'the message back', received)).toBe('hello');
    expectConfigured(first);

    const reconnected = connected(subscriber);
    first.destroy(); // MQTT.js reconnects with a new stream
    await within(10_000, 'mqtt reconnect', reconnected);
    expect(socketOf(subscriber)).not.toBe(first);
    expectConfigured(socketOf(subscriber));
  });
});
