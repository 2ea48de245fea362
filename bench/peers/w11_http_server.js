'use strict';
// W11 HTTP server (Node.js peer): the http module answering every request
// with the same 1 KiB body, on 127.0.0.1:PORT. Prints READY once listening.
const http = require('http');
const { arg } = require('./peer_common');

const port = Number(arg('port', 0));
const body = Buffer.alloc(1024, 'x');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
});
server.listen(port, '127.0.0.1', () => process.stdout.write('READY\n'));
