"""--threads: several event loops in one process. Clients are spread over the loops by the kernel
(SO_REUSEPORT); the access lines of loops other than the first carry `loop=N`, which is how a test
sees where each client landed. Every wait is bounded."""

import asyncio
import pathlib
import re
import signal
import sys
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_interop import TIMEOUT, Wsgate, client, run, wsgate  # noqa: E402,F401


def loops_of_sessions(server, count):
    """The loop of each of the first `count` session.open lines (0: the first loop)."""
    assert server.logged("event=session.open", timeout=10)
    opened = []
    for _ in range(200):
        opened = [line for line in server.lines if "event=session.open" in line]
        if len(opened) >= count:
            break
        time.sleep(0.05)  # the drain thread reads the lines; nothing to serve meanwhile
    assert len(opened) >= count, "\n".join(server.lines[-20:])
    return [int(m.group(1)) if (m := re.search(r" loop=(\d+)", line)) else 0 for line in opened]


def test_broadcast_reaches_clients_on_every_loop_in_order_per_sender(wsgate):
    server = wsgate("--threads", "4", "--loglevel", "access", "--route", "/chat/*=broadcast")
    clients_count, per_client = 100, 3

    async def main():
        clients = [await client(server.url("/chat/room")) for _ in range(clients_count)]
        loops = set(loops_of_sessions(server, clients_count))
        assert loops == {0, 1, 2, 3}, f"clients landed on loops {loops} only"
        for round_ in range(per_client):
            for index, ws in enumerate(clients):
                await ws.send(f"{index}:{round_}")

        async def receive_all(me, ws):
            seen = {}
            for _ in range((clients_count - 1) * per_client):
                sender, round_ = map(int, (await asyncio.wait_for(ws.recv(), 20)).split(":"))
                assert sender != me, "a member got its own message back"
                assert round_ == seen.get(sender, -1) + 1, f"out of order from {sender}"
                seen[sender] = round_
            assert len(seen) == clients_count - 1

        await asyncio.gather(*(receive_all(index, ws) for index, ws in enumerate(clients)))
        for ws in clients:
            await ws.close()

    run(main(), timeout=90)


def test_shutdown_closes_sessions_on_every_loop(wsgate):
    server = wsgate("--threads", "4", "--loglevel", "access", "--route", "/echo=echo")

    async def main():
        clients = [await client(server.url("/echo")) for _ in range(24)]
        assert set(loops_of_sessions(server, 24)) == {0, 1, 2, 3}
        server.process.send_signal(signal.SIGTERM)
        for ws in clients:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 15)
            assert ws.close_code == 1001

    run(main(), timeout=60)
    assert server.wait(timeout=20) == 0
    assert sum("event=server.shutdown" in line for line in server.lines) == 1
    assert server.logged("event=server.stopped")


def test_connection_limit_is_for_the_process(wsgate):
    server = wsgate("--threads", "4", "--max-connections", "3", "--route", "/echo=echo")

    async def main():
        held = [await client(server.url("/echo")) for _ in range(3)]
        # Whichever loop they land on, a fourth connection is one too many.
        for _ in range(8):
            with pytest.raises(InvalidStatus) as refused:
                await client(server.url("/echo"))
            assert refused.value.response.status_code == 503
        await held[0].close()
        for _ in range(100):
            try:
                async with client(server.url("/echo")) as ws:
                    await ws.send("again")
                    assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "again"
                break
            except InvalidStatus:
                await asyncio.sleep(0.05)  # the close is still being counted
        else:
            pytest.fail("a freed connection slot was never reused")

    run(main(), timeout=60)


def test_maxforks_is_for_the_process(wsgate):
    server = wsgate("--threads", "4", "--maxforks", "2", "--route", "/cat=cat")

    async def main():
        held = [await client(server.url("/cat")) for _ in range(2)]
        for ws in held:
            await ws.send("up")
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "up"
        for _ in range(8):
            with pytest.raises(InvalidStatus) as refused:
                await client(server.url("/cat"))
            assert refused.value.response.status_code == 503

    run(main(), timeout=60)


def test_routes_with_one_program_for_all_clients_are_refused_with_threads():
    import subprocess

    from test_interop import BINARY

    done = subprocess.run([str(BINARY), "--port", "0", "--threads", "2", "--route", "/feed=fanout:cat"],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 2
    assert "--threads" in done.stderr and "/feed" in done.stderr


def test_metrics_sum_over_loops(wsgate):
    server = wsgate("--threads", "4", "--loglevel", "access", "--metrics", "--route", "/echo=echo")

    def scrape():
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=TIMEOUT) as response:
            text = response.read().decode()
        return {line.split()[0]: float(line.split()[1]) for line in text.splitlines() if line and line[0] != "#"}

    async def main():
        clients = [await client(server.url("/echo")) for _ in range(20)]
        assert len(set(loops_of_sessions(server, 20))) > 1
        for ws in clients:
            await ws.send("one")
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "one"
        # Other loops publish their counters every second: the sum settles within a few.
        deadline = time.monotonic() + 10
        while True:
            samples = await asyncio.to_thread(scrape)
            if (samples.get('wsgate_connections_open{route="/echo"}') == 20
                    and samples.get('wsgate_messages_received_total{route="/echo"}') == 20):
                break
            assert time.monotonic() < deadline, samples
            await asyncio.sleep(0.2)
        for ws in clients:
            await ws.close()

    run(main(), timeout=60)
