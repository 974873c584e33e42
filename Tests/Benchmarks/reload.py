#!/usr/bin/env python3
"""What a reload costs with many sessions open, and that none is dropped.

Starts wsgate with a --config file (an echo route and a shared route), opens N sessions on the
echo route, rewrites the file (adds a route, changes /echo's max-message-size), sends SIGHUP and
measures the time from the signal to the `config.reloaded` log line (and the line's own
duration_us). Then every session must still echo, and the log must hold no session.close.

  .venv/bin/python Tests/Benchmarks/reload.py [N]     (default 1000; loopback only)
"""
import asyncio
import os
import pathlib
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time

from websockets.asyncio.client import connect

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = os.environ.get("WSGATE_BIN", str(ROOT / ".build" / "debug" / "wsgate"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
MIRROR = ROOT / "Tests" / "Interop" / "programs" / "mirror"
BEFORE = f'[[route]]\npath = "/echo"\nhandler = "echo"\n[[route]]\npath = "/shared"\nhandler = "shared:{MIRROR}"\n'
AFTER = BEFORE + '[[route]]\npath = "/added"\nhandler = "echo"\n'
AFTER = AFTER.replace('handler = "echo"\n', 'handler = "echo"\nmax-message-size = 4096\n', 1)


async def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    directory = tempfile.mkdtemp()
    config = pathlib.Path(directory) / "gw.toml"
    config.write_text(BEFORE)
    process = subprocess.Popen([BINARY, "--config", str(config), "--address", "127.0.0.1", "--port", "0",
                                "--loglevel", "access"], stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    lines = []
    loop = asyncio.get_running_loop()
    reloaded = loop.create_future()
    listening = loop.create_future()

    def read():
        for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            lines.append((time.monotonic(), line))
            port = re.search(r"event=server\.listen .*address=\S+:(\d+)", line)
            if port and not listening.done():
                loop.call_soon_threadsafe(listening.set_result, int(port.group(1)))
            if "event=config.reload" in line and not reloaded.done():
                loop.call_soon_threadsafe(reloaded.set_result, (time.monotonic(), line))

    import threading
    threading.Thread(target=read, daemon=True).start()
    port = await asyncio.wait_for(listening, 10)
    url = f"ws://127.0.0.1:{port}/echo"
    sessions = []
    for i in range(0, N, 100):
        sessions += await asyncio.gather(*(connect(url, proxy=None, ping_interval=None) for _ in range(min(100, N - i))))
    for ws in sessions:
        await ws.send("before")
    assert all([await ws.recv() == "before" for ws in sessions])
    opened = len(lines)
    config.write_text(AFTER)
    sent = time.monotonic()
    process.send_signal(signal.SIGHUP)
    at, line = await asyncio.wait_for(reloaded, 20)
    for ws in sessions:
        await ws.send("after " + "x" * 5000)  # over the new limit of /echo: kept sessions keep the old one
    echoed = sum([(await asyncio.wait_for(ws.recv(), 10)).startswith("after") for ws in sessions])
    closes = [l for _, l in lines[opened:] if "event=session.close" in l]
    inside = re.search(r"duration_us=\d+", line).group(0)
    print(f"sessions={N} sighup_to_log_ms={(at - sent) * 1000:.2f} {inside}")
    print(f"echoed_after_reload={echoed}/{N} session_close_lines_during_reload={len(closes)}")
    print(line)
    for ws in sessions:
        await ws.close()
    process.send_signal(signal.SIGTERM)
    process.wait(10)


asyncio.run(main())
