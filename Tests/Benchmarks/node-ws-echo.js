// The peer for Tests/Benchmarks/compare.sh: Debian's node-ws as a plain echo server.
const WebSocket = require('/usr/share/nodejs/ws');
const server = new WebSocket.Server({ port: Number(process.argv[2]) });
server.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
