'use strict';
// Container HEALTHCHECK: exit 0 when /health/live answers 200 on this container's PORT, else 1.
// Written in JavaScript because the runtime image has no curl or wget.

const http = require('node:http');
const { readPort } = require('./server');

const port = readPort();
const req = http.get({ host: '127.0.0.1', port: port || 0, path: '/health/live', timeout: 3000 }, (res) => {
  res.resume();
  process.exitCode = res.statusCode === 200 ? 0 : 1;
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (err) => {
  console.error(`healthcheck: ${err.message}`);
  process.exitCode = 1;
});
