'use strict';
// W6 echo server (Node.js peer) with the net module on 127.0.0.1:PORT:
// every chunk received is written back. Prints READY once listening.
const net = require('net');
const { arg } = require('./peer_common');

const port = Number(arg('port', 0));
const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('data', (data) => socket.write(data));
  socket.on('error', () => socket.destroy());
});
server.listen(port, '127.0.0.1', () => process.stdout.write('READY\n'));
