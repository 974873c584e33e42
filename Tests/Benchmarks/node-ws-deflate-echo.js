// The compression peer for Tests/Benchmarks/compare-deflate.sh: Debian's node-ws echoing, with
// perMessageDeflate on at ws's own defaults (context takeover, threshold 1024 bytes, zlib level 6).
const WebSocket = require('/usr/share/nodejs/ws');
const server = new WebSocket.Server({ port: Number(process.argv[2]), perMessageDeflate: true });
server.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
