"""--redis: broadcast rooms and fanout routes spanning two wsgate instances through a real
redis-server (Debian's, installed by .ci/run; skipped when missing).

Subscription is asynchronous: a test waits until Redis counts the instances' subscriptions
(PUBSUB NUMSUB) before it expects a message to cross. "B sees nothing" is checked by order: a
message sent after the one that must not arrive is the next one B receives.
"""

import asyncio
import pathlib
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from redis_support import RedisServer, instance  # noqa: E402
from test_interop import TIMEOUT, client, run  # noqa: E402

ROOMS = ("--route", "/chat/*=broadcast", "--metrics")


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def pair(redis):
    """Two wsgate instances with broadcast rooms on the same Redis."""
    first, second = instance(redis.url(), *ROOMS), instance(redis.url(), *ROOMS)
    for gate in (first, second):
        assert gate.logged("event=redis.connected", timeout=20), "\n".join(gate.lines)
    yield first, second
    first.stop()
    second.stop()


async def recv(ws):
    return await asyncio.wait_for(ws.recv(), TIMEOUT)


def redis_counter(gate, name):
    """One of the room bus's counters, from a scrape of gate's /metrics."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{gate.port}/metrics", timeout=TIMEOUT) as response:
        text = response.read().decode()
    return int(float(next(line.split()[1] for line in text.splitlines() if line.startswith(name + " "))))


def rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_room_spans_instances_exactly_once_in_order_and_binary(redis, pair):
    first, second = pair

    async def main():
        async with client(first.url("/chat/a")) as a1, client(first.url("/chat/a")) as a2, \
                client(second.url("/chat/a")) as b1, client(second.url("/chat/b")) as other:
            redis.wait_subscribers("wsgate:broadcast:/chat/a", 2)
            # Each message reaches every other member once (locally or through Redis), in order per
            # sender, and no sender hears itself; nothing crosses into /chat/b.
            for n in range(50):
                await a1.send(f"a1-{n}")
            await b1.send(b"\x00\xff\r\nbinary")
            await other.send("b only")
            await b1.send("last")
            await a1.send("last")

            async def until_last(ws, lasts):
                got = []
                while lasts:
                    message = await recv(ws)
                    got.append(message)
                    if message == "last":
                        lasts -= 1
                return got

            texts = [f"a1-{n}" for n in range(50)]
            got = await until_last(a2, 2)
            assert [m for m in got if m != "last"] == [b"\x00\xff\r\nbinary"] + texts or \
                sorted(map(repr, got)) == sorted(map(repr, [b"\x00\xff\r\nbinary", "last", "last", *texts]))
            assert [m for m in got if isinstance(m, str) and m.startswith("a1-")] == texts
            assert got.count(b"\x00\xff\r\nbinary") == 1
            assert await until_last(a1, 1) == [b"\x00\xff\r\nbinary", "last"]
            assert await until_last(b1, 1) == texts + ["last"]
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(other.recv(), 0.5)
            for ws in (a1, a2, b1):
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(ws.recv(), 0.3)

    run(main())


def test_redis_outage_keeps_local_delivery_bounds_memory_and_recovers(redis, pair):
    first, second = pair

    async def main():
        async with client(first.url("/chat/r")) as a1, client(first.url("/chat/r")) as a2, \
                client(second.url("/chat/r")) as b1:
            redis.wait_subscribers("wsgate:broadcast:/chat/r", 2)
            await a1.send("before")
            assert await recv(a2) == "before" and await recv(b1) == "before"

            redis.stop()
            for gate in (first, second):
                assert gate.logged("event=redis.down", timeout=20), "\n".join(gate.lines)
            # Local delivery goes on while Redis is down.
            await a1.send("local")
            assert await recv(a2) == "local"
            # Publishing into a dead Redis: dropped and counted, memory flat.
            payload = "x" * 1024
            async def burst(count):
                for _ in range(count // 200):
                    for _ in range(200):
                        await a1.send(payload)
                    for _ in range(200):
                        await recv(a2)
            await burst(2000)
            before = rss_kib(first.process.pid)
            await burst(8000)
            after = rss_kib(first.process.pid)
            assert after - before < 4096, f"VmRSS grew from {before} to {after} KiB while Redis was down"
            # Each of the 10,001 messages sent meanwhile could not be published: dropped and counted.
            assert redis_counter(first, "wsgate_redis_dropped_total") >= 10_001

            redis.start()
            for gate in (first, second):
                assert gate.logged("event=redis.up", timeout=20), "\n".join(gate.lines)
            redis.wait_subscribers("wsgate:broadcast:/chat/r", 2)
            await b1.send("after")
            assert await recv(a1) == "after" and await recv(a2) == "after"

    run(main(), timeout=90)
    for gate in (first, second):
        assert sum("event=redis.down" in line for line in gate.lines) == 1, "\n".join(gate.lines)
        assert sum("event=redis.up" in line for line in gate.lines) == 1
        assert first.process.poll() is None


def test_wrong_password_is_logged_and_rooms_stay_local(tmp_path):
    redis = RedisServer(tmp_path, "--requirepass", "right", "--user", "app", "on", ">apppass", "~*", "&*", "+@all")
    wrong = instance(redis.url(":wrong@"), *ROOMS)
    acl = instance(redis.url("app:apppass@"), *ROOMS)
    right = instance(redis.url(":right@"), *ROOMS)
    try:
        assert wrong.logged("event=redis.login_refused", timeout=20), "\n".join(wrong.lines)
        assert any("WRONGPASS" in line for line in wrong.lines if "redis.login_refused" in line)
        for gate in (acl, right):
            assert gate.logged("event=redis.connected", timeout=20), "\n".join(gate.lines)

        async def main():
            async with client(wrong.url("/chat/p")) as w1, client(wrong.url("/chat/p")) as w2, \
                    client(acl.url("/chat/p")) as a, client(right.url("/chat/p")) as r:
                redis.wait_subscribers("wsgate:broadcast:/chat/p", 2, password="right")
                await w1.send("local only")
                assert await recv(w2) == "local only"
                await a.send("acl user")
                assert await recv(r) == "acl user"
                await r.send("default user")
                assert await recv(a) == "default user"
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(w1.recv(), 0.5)

        run(main())
        assert wrong.process.poll() is None
    finally:
        for gate in (wrong, acl, right):
            gate.stop()
        redis.stop()


@pytest.mark.parametrize("threads", ["1", "4"])
def test_fanout_input_spans_instances_output_stays_local(redis, threads):
    """Each instance runs its own `cat`; a client's line reaches every instance's program once, so
    every client gets it once, from its own instance's program (whichever loop the client is on)."""
    flags = ("--route", "/feed=fanout:cat", "--threads", threads)
    first, second = instance(redis.url(), *flags), instance(redis.url(), *flags)
    try:
        redis.wait_subscribers("wsgate:fanout:/feed", 2)

        async def main():
            async with client(first.url("/feed")) as a, client(second.url("/feed")) as b, \
                    client(second.url("/feed")) as c:
                for n in range(20):
                    await a.send(f"from a {n}")
                await b.send("from b")
                for ws in (a, b, c):
                    got = [await recv(ws) for _ in range(21)]
                    assert sorted(got) == sorted([f"from a {n}" for n in range(20)] + ["from b"])
                    assert [m for m in got if m.startswith("from a")] == [f"from a {n}" for n in range(20)]
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(c.recv(), 0.5)

        run(main())
    finally:
        first.stop()
        second.stop()


def test_bad_redis_url_and_unresolvable_host_stop_wsgate_with_status_2(tmp_path):
    import subprocess

    from test_interop import BINARY

    for url, reason in (("rediss://h", "TLS"), ("redis://h:0", "port"), ("redis://no-such-host.invalid", "resolve")):
        done = subprocess.run([str(BINARY), "--port", "0", "--redis", url, *ROOMS], capture_output=True, text=True,
                              timeout=20)
        assert done.returncode == 2, done.stderr
        assert reason in done.stderr
