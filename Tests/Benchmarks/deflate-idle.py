"""Opens N WebSocket connections to URL with Python websockets' default compression offer
(permessage-deflate; client_max_window_bits), sends and receives a few (or MESSAGES) ~400-byte
text messages on each, prints
'ready', and holds them idle until stdin closes. Used by deflate-memory.sh."""
import asyncio, sys, websockets

MESSAGE = '{"user": "ada", "text": "a message of a few hundred bytes, as chat or logs send", "n": %d} ' * 4

async def main(url, count):
    connections = []
    for i in range(count):
        ws = await websockets.connect(url, ping_interval=None, max_size=None)
        for n in range(int(sys.argv[3]) if len(sys.argv) > 3 else 3):
            await ws.send(MESSAGE % (n, n, n, n))
            await ws.recv()
        connections.append(ws)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for c in connections:
        await c.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
