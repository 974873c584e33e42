"""--threads: several event loops in one process. Clients are spread over the loops by the kernel
(SO_REUSEPORT); the access lines of loops other than the first carry `loop=N`, which is how a test
sees where each client landed. Every wait is bounded."""

import asyncio
import json
import os
import pathlib
import re
import shlex
import signal
import sys
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_interop import ROOT, TIMEOUT, Wsgate, client, run, wsgate  # noqa: E402,F401
from test_config import write_config  # noqa: E402
from test_shared_modes import join  # noqa: E402


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
        # 64, not 24: SO_REUSEPORT spreads by a hash of the ports, and 24 clients left one of the
        # four loops empty about once in 250 runs (4 x (3/4)^24); 64 make that once in 10^7.
        clients = [await client(server.url("/echo")) for _ in range(64)]
        assert set(loops_of_sessions(server, 64)) == {0, 1, 2, 3}
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


MIRROR = shlex.quote(str(ROOT / "Tests" / "Interop" / "programs" / "mirror"))


async def recv(ws, timeout=TIMEOUT):
    return await asyncio.wait_for(ws.recv(), timeout)


async def spread_mirror_clients(server, path, count):
    """`count` clients of the mirror on `path`, their ids, and the loop of each (at least two)."""
    joined = [await join(server, path) for _ in range(count)]
    loops = loops_of_sessions(server, count)
    assert len(set(loops)) >= 2, f"clients landed on loops {set(loops)} only"
    return [ws for ws, _, _ in joined], [ident for _, ident, _ in joined], loops


def test_shared_program_serves_clients_on_every_loop(wsgate):
    # The program runs once, on the first loop; clients on the others reach it through the inboxes.
    server = wsgate("--threads", "4", "--loglevel", "access", "--route", f"/s/*=shared:{MIRROR}")

    async def main():
        clients, ids, loops = await spread_mirror_clients(server, "/s/x", 12)
        assert len(set(ids)) == len(ids), "session ids collide across loops"
        # Per-client sends reach exactly the right client, whatever loop the sender and it are on.
        for index, ws in enumerate(clients):
            target = ids[(index + 5) % len(ids)]
            await ws.send(f"!send {target} from {index} to {target}")
        for index, ws in enumerate(clients):
            assert await recv(ws) == f"from {(index - 5) % len(ids)} to {ids[index]}"
        # `others` skips the listed ids and nobody else; `all` reaches everyone (and marks the end).
        await clients[1].send(f"!others {ids[0]},{ids[1]} not for 0 or 1")
        await clients[1].send("!all marker")
        for index, ws in enumerate(clients):
            if index > 1:
                assert await recv(ws) == "not for 0 or 1"
            assert await recv(ws) == "marker", f"client {index} on loop {loops[index]}"
        # Messages both ways, text and binary, for a client on another loop than the program's.
        remote = next(index for index in range(1, len(loops)) if loops[index] != 0)
        await clients[remote].send("echo me")
        assert await recv(clients[remote]) == "echo me"
        await clients[remote].send(b"\x00\xffbinary")
        assert await recv(clients[remote]) == b"\x00\xffbinary"
        # A close by the program, with its code and reason, on whichever loop the client is.
        closing = [0, remote]
        await clients[next(index for index in range(1, len(loops)) if index != remote)].send(f"!close {ids[0]},{ids[remote]} 4001 bye now")
        for index in closing:
            with pytest.raises(ConnectionClosed):
                await recv(clients[index])
            assert (clients[index].close_code, clients[index].close_reason) == (4001, "bye now")
        # Their close events reach the program, which tells everyone left.
        for index, ws in enumerate(clients):
            if index not in closing:
                told = {await recv(ws), await recv(ws)}
                assert told == {f"closed {ids[0]} 4001", f"closed {ids[remote]} 4001"}
        for index, ws in enumerate(clients):
            if index not in closing:
                await ws.close()
                assert ws.close_code == 1000

    run(main(), timeout=90)


def test_fanout_sends_every_line_to_clients_on_every_loop_in_order(wsgate):
    server = wsgate("--threads", "4", "--loglevel", "access", "--route", "/f=fanout:cat")
    count, lines = 16, 200

    async def main():
        clients = [await client(server.url("/f"), max_queue=None) for _ in range(count)]
        loops = loops_of_sessions(server, count)
        assert len(set(loops)) >= 2, f"clients landed on loops {set(loops)} only"
        sender = next(index for index, loop in enumerate(loops) if loop != 0)
        for line in range(lines):
            await clients[sender].send(f"line {line}")

        async def receive_all(ws):
            for line in range(lines):
                assert await recv(ws, 20) == f"line {line}"

        await asyncio.gather(*(receive_all(ws) for ws in clients))
        await clients[sender].send(b"\x00")
        with pytest.raises(ConnectionClosed):
            await recv(clients[sender])
        assert clients[sender].close_code == 1003
        for ws in clients:
            await ws.close()

    run(main(), timeout=90)


ENVIRONMENT_ECHO = (
    "import json, sys\n"
    "for line in sys.stdin:\n"
    "    event = json.loads(line)\n"
    "    if event['event'] == 'open':\n"
    "        env = event['env']\n"
    "        text = json.dumps([event['id'], env.get('QUERY_STRING'), env.get('REMOTE_PORT'), env.get('PATH_INFO')])\n"
    "        print(json.dumps({'cmd': 'send', 'to': event['id'], 'text': text}), flush=True)\n"
)


def test_shared_json_open_events_carry_each_sessions_environment(wsgate, tmp_path):
    program = tmp_path / "env-echo"
    program.write_text(ENVIRONMENT_ECHO)
    server = wsgate("--threads", "4", "--loglevel", "access",
                    "--route", f"/j/*=shared-json:{shlex.quote(sys.executable)} {shlex.quote(str(program))}")
    count = 12

    async def main():
        clients = [await client(server.url(f"/j/p{index}?n={index}")) for index in range(count)]
        loops = loops_of_sessions(server, count)
        assert len(set(loops)) >= 2, f"clients landed on loops {set(loops)} only"
        seen = set()
        for index, ws in enumerate(clients):
            ident, query, port, path_info = json.loads(await recv(ws))
            assert query == f"n={index}", f"client {index} on loop {loops[index]}"
            assert path_info == f"/p{index}"
            assert int(port) == ws.local_address[1]
            seen.add(ident)
        assert len(seen) == count
        for ws in clients:
            await ws.close()

    run(main(), timeout=60)


def rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_program_that_stops_reading_stdin_throttles_clients_on_every_loop(wsgate):
    server = wsgate("--threads", "4", "--loglevel", "access", "--route", "/s=shared:sleep 600",
                    "--max-queued-bytes", "64KiB")
    count = 6

    async def main():
        clients = [await client(server.url("/s")) for _ in range(count)]
        loops = loops_of_sessions(server, count)
        assert len(set(loops)) >= 2, f"clients landed on loops {set(loops)} only"
        before = rss_kib(server.process.pid)
        payload = "y" * 4096

        async def flood(ws):
            for _ in range(5000):  # 20 MB each: far more than any buffer on the way
                await ws.send(payload)

        done, pending = await asyncio.wait([asyncio.create_task(flood(ws)) for ws in clients], timeout=5)
        assert not done, "20 MB went into a program that reads nothing"
        growth = rss_kib(server.process.pid) - before
        assert growth < 16 * 1024, f"wsgate grew by {growth} KiB"
        for task in pending:
            task.cancel()
        for ws in clients:
            ws.transport.abort()

    run(main(), timeout=60)


def test_shared_program_exit_closes_clients_on_every_loop_with_1012(wsgate, tmp_path):
    flag = tmp_path / "down"
    server = wsgate("--threads", "4", "--loglevel", "access",
                    "--route", f"/r=shared:{MIRROR} --down {shlex.quote(str(flag))}")

    async def main():
        joined = [await join(server, "/r") for _ in range(8)]
        loops = loops_of_sessions(server, 8)
        assert len(set(loops)) >= 2, f"clients landed on loops {set(loops)} only"
        flag.touch()
        os.kill(joined[0][2], signal.SIGKILL)
        for ws, _, _ in joined:
            with pytest.raises(ConnectionClosed):
                await recv(ws)
            assert ws.close_code == 1012
        # While it cannot stay up, every loop refuses upgrades with 503.
        refusals = 0
        deadline = time.monotonic() + 20
        while refusals < 8 and time.monotonic() < deadline:
            try:
                async with client(server.url("/r")) as probe:
                    await asyncio.wait_for(probe.wait_closed(), TIMEOUT)
            except InvalidStatus as error:
                refusals += error.response.status_code == 503
            except (ConnectionClosed, TimeoutError, OSError):
                pass
        assert refusals == 8
        flag.unlink()
        deadline = time.monotonic() + 40
        again = []
        while len(again) < 8:
            try:
                again.append(await join(server, "/r"))
            except (InvalidStatus, ConnectionClosed, AssertionError, TimeoutError, OSError):
                assert time.monotonic() < deadline, "route not served again"
                await asyncio.sleep(0.2)
        await echo_then_close(again, "back")

    run(main(), timeout=120)


async def echo_then_close(joined, text):
    """Each mirror client in `joined` gets `text` back, then all close."""
    for ws, _, _ in joined:
        await ws.send(text)
        assert await recv(ws) == text
    for ws, _, _ in joined:
        await ws.close()


def test_reload_that_changes_the_program_closes_its_clients_on_every_loop_with_1012(wsgate, tmp_path):
    config = tmp_path / "gw.toml"
    route = '[[route]]\npath = "/s"\nhandler = {!r}\n'
    write_config(config, route.format(f"shared:{MIRROR}"))
    server = wsgate("--threads", "4", "--loglevel", "access", "--config", str(config))

    async def main():
        joined = [await join(server, "/s") for _ in range(8)]
        loops = loops_of_sessions(server, 8)
        assert len(set(loops)) >= 2, f"clients landed on loops {set(loops)} only"
        write_config(config, route.format(f"shared:{MIRROR} --down /nonexistent"))
        server.process.send_signal(signal.SIGHUP)
        for ws, _, _ in joined:
            with pytest.raises(ConnectionClosed):
                await recv(ws, 20)
            assert ws.close_code == 1012
        again = [await join(server, "/s") for _ in range(8)]
        assert {pid for _, _, pid in again} != {joined[0][2]}, "still the old program"
        assert len({pid for _, _, pid in again}) == 1
        await echo_then_close(again, "new")

    run(main(), timeout=90)


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
