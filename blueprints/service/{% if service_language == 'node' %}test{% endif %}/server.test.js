'use strict';
// The service's own tests: `node --test` (Node's built-in runner, no dependencies).

const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { createService, address, envVar } = require('../src/server');

const SAMPLE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? \S+$/;

async function start(t, env) {
  const service = createService(env);
  await new Promise((resolve) => service.server.listen(0, '127.0.0.1', resolve));
  t.after(() => service.stop());
  return `http://127.0.0.1:${service.server.address().port}`;
}

async function get(url) {
  const res = await fetch(url);
  return [res.status, await res.text()];
}

async function listener() {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

test('live answers 200', async (t) => {
  const [code, body] = await get(`${await start(t, {})}/health/live`);
  assert.equal(code, 200);
  assert.equal(JSON.parse(body).status, 'live');
});

test('ready when the dependency listens, without leaking its URL', async (t) => {
  const db = await listener();
  t.after(() => db.close());
  const base = await start(t, { DEPENDS_ON: 'db', DB_URL: `postgres://user:secret@127.0.0.1:${db.address().port}/app` });
  const [code, body] = await get(`${base}/health/ready`);
  assert.equal(code, 200);
  assert.deepEqual(JSON.parse(body).checks, { db: 'ok' });
  assert.ok(!body.includes('secret'));
});

test('not ready when a dependency is down or not configured', async (t) => {
  const down = await listener();
  const port = down.address().port;
  await new Promise((resolve) => down.close(resolve));
  const base = await start(t, { DEPENDS_ON: 'cache, queue', CACHE_URL: `127.0.0.1:${port}` });
  const [code, body] = await get(`${base}/health/ready`);
  assert.equal(code, 503);
  assert.deepEqual(JSON.parse(body).checks, { cache: 'unreachable', queue: 'not configured' });
});

test('metrics are Prometheus text', async (t) => {
  const base = await start(t, {});
  await get(`${base}/health/live`);
  assert.equal((await get(`${base}/nowhere`))[0], 404);
  const [code, body] = await get(`${base}/metrics`);
  assert.equal(code, 200);
  for (const line of body.trimEnd().split('\n')) {
    assert.ok(line.startsWith('# ') || SAMPLE.test(line), line);
  }
  assert.ok(body.includes('http_requests_total{method="GET",path="/health/live",code="200"} 1'));
  assert.ok(body.includes('path="other",code="404"} 1'));
  assert.ok(body.includes('service_info{'));
});

test('addresses and variable names', () => {
  assert.deepEqual(address('redis://cache'), ['cache', 6379]);
  assert.deepEqual(address('db:5432'), ['db', 5432]);
  assert.equal(address('db:notaport'), null);
  assert.equal(envVar('object-store.eu'), 'OBJECT_STORE_EU_URL');
});

test('a worker loop counts its jobs and stops', { skip: !createService({}).work && 'not a worker' }, async () => {
  const service = createService({ WORK_INTERVAL_SECONDS: '0.01' });
  await service.work();
  await new Promise((resolve) => setTimeout(resolve, 100));
  service.stop();
  assert.ok(service.metrics.jobsProcessed >= 2, `processed ${service.metrics.jobsProcessed}`);
  assert.ok(service.live()[0]);
  assert.match(service.metrics.render(), /^jobs_processed_total \d+$/m);
});
