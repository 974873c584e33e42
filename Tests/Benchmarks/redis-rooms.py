#!/usr/bin/env python3
"""A broadcast room spread over two wsgate instances on Redis against a room on one instance
(a benchmark, not a test; loopback, bounded, about 20 s).

One sender, RECEIVERS receivers. "one": everyone on instance A. "two": the sender on A, the
receivers on B, so every message crosses Redis (A publishes, Redis pushes to B, B sends).
  - throughput: MESSAGES messages of SIZE bytes, at most WINDOW unacknowledged by the slowest
    receiver; delivered messages/s = MESSAGES x RECEIVERS / elapsed.
  - latency: PACED messages one every 2 ms, each carrying its send time; p50/p99 of the time to
    reach a receiver (the same process's monotonic clock).
The Python client shares the 2 cores with wsgate and Redis: the figures compare the two layouts
under the same load generator, they are not wsgate's ceiling.
Needs: swift build -c release --product wsgate; redis-server.
"""
import asyncio
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "Interop"))
os.environ.setdefault("WSGATE_BIN", str(pathlib.Path(__file__).resolve().parents[2] / ".build" / "release" / "wsgate"))
from redis_support import RedisServer, instance  # noqa: E402
from test_interop import client  # noqa: E402

RECEIVERS = int(os.environ.get("RECEIVERS", "4"))
MESSAGES = int(os.environ.get("MESSAGES", "20000"))
SIZE = int(os.environ.get("SIZE", "64"))
WINDOW = int(os.environ.get("WINDOW", "200"))
PACED = int(os.environ.get("PACED", "1000"))


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


async def measure(sender_url, receiver_url, redis, layout):
    async with client(sender_url) as sender:
        receivers = [await client(receiver_url).__aenter__() for _ in range(RECEIVERS)]
        if layout == "two":
            redis.wait_subscribers("wsgate:broadcast:/bench", 2)
        counts = [0] * RECEIVERS
        latencies = []
        done = asyncio.Event()

        async def drain(index, ws):
            while True:
                message = await ws.recv()
                counts[index] += 1
                if message.startswith("t"):
                    latencies.append(time.monotonic() - float(message[1:].split(" ")[0]))

        tasks = [asyncio.create_task(drain(i, ws)) for i, ws in enumerate(receivers)]
        payload = "x" * SIZE
        started = time.monotonic()
        for n in range(MESSAGES):
            while n - min(counts) >= WINDOW:
                await asyncio.sleep(0.0005)
            await sender.send(payload)
        while min(counts) < MESSAGES:
            await asyncio.sleep(0.001)
        elapsed = time.monotonic() - started
        rate = MESSAGES * RECEIVERS / elapsed
        for _ in range(PACED):
            await sender.send(f"t{time.monotonic()} " + payload)
            await asyncio.sleep(0.002)
        while min(counts) < MESSAGES + PACED:
            await asyncio.sleep(0.001)
        for task in tasks:
            task.cancel()
        for ws in receivers:
            await ws.close()
        ms = [x * 1000 for x in latencies]
        return rate, percentile(ms, 50), percentile(ms, 99)


def main():
    if shutil.which("redis-server") is None:
        sys.exit("redis-server is not installed")
    with tempfile.TemporaryDirectory() as directory:
        redis = RedisServer(pathlib.Path(directory))
        flags = ("--route", "/bench=broadcast", "--max-queued-bytes", "8MiB")
        a, b = instance(redis.url(), *flags), instance(redis.url(), *flags)
        try:
            time.sleep(0.5)
            results = {}
            for layout, receiver in (("one", a), ("two", b), ("one", a), ("two", b)):
                results.setdefault(layout, []).append(
                    asyncio.run(measure(a.url("/bench"), receiver.url("/bench"), redis, layout)))
            print(f"{RECEIVERS} receivers, {MESSAGES} x {SIZE} B (window {WINDOW}), {PACED} paced at 2 ms")
            for layout, runs in results.items():
                best = max(runs)
                print(f"room on {layout} instance(s): {best[0]:,.0f} messages/s delivered, "
                      f"latency p50 {best[1]:.2f} ms p99 {best[2]:.2f} ms (best of {len(runs)})")
        finally:
            a.stop()
            b.stop()
            redis.stop()


if __name__ == "__main__":
    main()
