'use strict';
// An ordinary CommonJS application using one client library (CLIENT) the way its README shows,
// with no keepalive code at all. One round trip, then READY; holds the connection until stdin closes.
const https = require('node:https');

const port = Number(process.env.TARGET_PORT);
const clients = {
  async pg() {
    const { Client } = require('pg');
    const client = new Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
    await client.connect();
    await client.query('SELECT 1');
    return () => client.end();
  },
  async mysql2() {
    const mysql = require('mysql2/promise');
    const connection = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', database: 'test' });
    await connection.query('SELECT 1');
    return () => connection.end();
  },
  async ioredis() {
    const Redis = require('ioredis');
    const redis = new Redis(6379, '127.0.0.1');
    await redis.ping();
    return () => redis.disconnect();
  },
  async redis() {
    const { createClient } = require('redis');
    const client = createClient({ url: 'redis://127.0.0.1:6379' });
    await client.connect();
    await client.ping();
    return () => client.destroy();
  },
  async amqplib() {
    const amqp = require('amqplib');
    const connection = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    await connection.createChannel();
    return () => connection.close().catch(() => undefined);
  },
  async mqtt() {
    const mqtt = require('mqtt');
    const client = await mqtt.connectAsync('mqtt://127.0.0.1:1883');
    await client.subscribeAsync('tcp-keepalive/register');
    return () => client.endAsync();
  },
  async nats() {
    const { connect } = require('nats');
    const connection = await connect({ servers: '127.0.0.1:4222' });
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

clients[process.env.CLIENT]().then(
  (close) => {
    process.stdout.write('READY\n');
    process.stdin.resume();
    process.stdin.on('end', async () => {
      await close();
      process.exit(0);
    });
  },
  (error) => {
    process.stderr.write(`app failed: ${error.stack}\n`);
    process.exit(2);
  },
);
