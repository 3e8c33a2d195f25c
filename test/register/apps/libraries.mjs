// The same application as an ES module (run with --import), importing each library as ESM code does.
import https from 'node:https';
import pg from 'pg';
import mysql from 'mysql2/promise';
import Redis from 'ioredis';
import { createClient } from 'redis';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import { connect as natsConnect } from 'nats';

const port = Number(process.env.TARGET_PORT);
const clients = {
  async pg() {
    const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
    await client.connect();
    await client.query('SELECT 1');
    return () => client.end();
  },
  async mysql2() {
    const connection = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', database: 'test' });
    await connection.query('SELECT 1');
    return () => connection.end();
  },
  async ioredis() {
    const redis = new Redis(6379, '127.0.0.1');
    await redis.ping();
    return () => redis.disconnect();
  },
  async redis() {
    const client = createClient({ url: 'redis://127.0.0.1:6379' });
    await client.connect();
    await client.ping();
    return () => client.destroy();
  },
  async amqplib() {
    const connection = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    await connection.createChannel();
    return () => connection.close().catch(() => undefined);
  },
  async mqtt() {
    const client = await mqtt.connectAsync('mqtt://127.0.0.1:1883');
    await client.subscribeAsync('tcp-keepalive/register');
    return () => client.endAsync();
  },
  async nats() {
    const connection = await natsConnect({ servers: '127.0.0.1:4222' });
    await connection.flush();
    return () => connection.close();
  },
  async fetch() {
    const response = await fetch(`https://127.0.0.1:${port}/`);
    await response.text();
    return () => undefined;
  },
  async https() {
    const agent = new https.Agent({ keepAlive: true });
    await new Promise((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port, agent, rejectUnauthorized: false }, (response) => {
          response.resume();
          response.on('end', resolve);
        })
        .on('error', reject);
    });
    return () => agent.destroy();
  },
};

const close = await clients[process.env.CLIENT]();
process.stdout.write('READY\n');
process.stdin.resume();
process.stdin.on('end', async () => {
  await close();
  process.exit(0);
});
