"""Opens N idle WebSocket connections to URL, prints 'ready', holds them until stdin closes.
For a wss:// URL, $CAFILE names the CA to trust."""
import asyncio, os, ssl, sys, websockets

async def main(url, count):
    connections = []
    for _ in range(count):
        options = {"ssl": ssl.create_default_context(cafile=os.environ.get("CAFILE"))} if url.startswith("wss:") else {}
        connections.append(await websockets.connect(url, ping_interval=None, max_size=None, **options))
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for c in connections:
        await c.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
