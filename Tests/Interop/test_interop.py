"""Interop: the built wsgate binary against an independent client, Python's `websockets`.

Run by .ci/run as `.venv/bin/pytest Tests/Interop` after `swift build`. The binary is
$WSGATE_BIN, else .build/debug/wsgate under the repository root. Each test starts its own
wsgate on a free port (`--port 0`, port read from the `event=server.listen` log line), so the
tests are independent and every wait has a timeout.
"""

import asyncio
import os
import pathlib
import re
import select
import signal
import subprocess
import threading
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = pathlib.Path(os.environ.get("WSGATE_BIN", ROOT / ".build" / "debug" / "wsgate"))
TIMEOUT = 5


class Wsgate:
    """One wsgate process listening on 127.0.0.1 on a free port."""

    def __init__(self, *flags, tcp=True, env=None, pass_fds=(), launcher=(), ready=None):
        """tcp=False: no --address/--port of its own (Unix sockets, passed sockets); then `port`
        is the first TCP port it reports, or None when it reports only Unix sockets. `launcher`:
        a command that runs wsgate (socket activation); `ready`: a pattern whose group is the port,
        for a launcher that says it is listening before wsgate starts."""
        self.ready = ready
        if not BINARY.exists():
            pytest.fail(f"wsgate binary not found at {BINARY}: run swift build or set WSGATE_BIN")
        listen = ["--address", "127.0.0.1", "--port", "0"] if tcp else []
        self.process = subprocess.Popen(
            [*launcher, str(BINARY), *listen, "--loglevel", "info", *flags],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            pass_fds=pass_fds,
        )
        self.lines = []
        self.port = self._read_port()
        # Keep draining stderr so the child never blocks on a full pipe (unless a test pauses it).
        self._draining = threading.Event()
        self._draining.set()
        self._drain = threading.Thread(target=self._read_rest, daemon=True)
        self._drain.start()

    def _read_port(self):
        deadline = time.monotonic() + 10
        buffer = b""
        stream = self.process.stderr
        while time.monotonic() < deadline:
            ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                text = line.decode(errors="replace")
                self.lines.append(text)
                match = re.search(self.ready or r"event=server\.listen .*address=\S+:(\d+)", text)
                if match or not self.ready and re.search(r"event=server\.listen .*unix=", text):
                    # The lines read with this one are kept, and a partial last line is finished
                    # by the drain thread.
                    *complete, self._partial = buffer.split(b"\n")
                    self.lines.extend(line.decode(errors="replace") for line in complete)
                    return int(match.group(1)) if match else None
        self.stop()
        pytest.fail("wsgate did not report its port; stderr: " + "\n".join(self.lines) + buffer.decode())

    def _read_rest(self):
        for line in self.process.stderr:
            line, self._partial = self._partial + line, b""
            self.lines.append(line.decode(errors="replace").rstrip("\n"))
            self._draining.wait()

    def logged(self, text, timeout=10):
        """Whether a log line containing `text` shows up within `timeout` (lines arrive through the
        drain thread, a little after the event)."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def pause_draining(self):
        """Stops reading wsgate's stderr, so its pipe fills (a stalled log reader)."""
        self._draining.clear()

    def resume_draining(self):
        self._draining.set()

    def url(self, path):
        return f"ws://127.0.0.1:{self.port}{path}"

    def wait(self, timeout=TIMEOUT):
        """The exit status; kills the process and fails if it does not exit in time."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"wsgate did not exit within {timeout} s")

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def wsgate():
    """A factory: wsgate(*flags) starts one; all are stopped after the test."""
    started = []

    def start(*flags, **options):
        server = Wsgate(*flags, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def run(coroutine, timeout=15):
    """Runs one test's client code with an overall bound."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def client(url, **options):
    options.setdefault("proxy", None)
    options.setdefault("open_timeout", TIMEOUT)
    options.setdefault("close_timeout", TIMEOUT)
    return connect(url, **options)


ROUTES = ("--route", "/echo=echo", "--route", "/chat/*=broadcast")


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 1 << 20])
def test_echo_text_and_binary(wsgate, size):
    server = wsgate(*ROUTES)

    async def main():
        async with client(server.url("/echo"), max_size=2 << 20) as ws:
            text = "é" * (size // 2) + "a" * (size % 2)
            await ws.send(text)
            assert await ws.recv() == text
            data = bytes((i * 31) & 0xFF for i in range(size))
            await ws.send(data)
            assert await ws.recv() == data
        assert ws.close_code == 1000

    run(main())


def test_echo_multibyte_utf8(wsgate):
    server = wsgate(*ROUTES)

    async def main():
        async with client(server.url("/echo")) as ws:
            for text in ["héllo", "日本語テキスト", "emoji 😀🎉", "𝄞 music", "mixed ✓ ß ø"]:
                await ws.send(text)
                assert await ws.recv() == text

    run(main())


def test_fragmented_send_is_reassembled(wsgate):
    server = wsgate(*ROUTES)

    async def main():
        async with client(server.url("/echo")) as ws:
            # websockets sends an iterable as one fragmented message.
            await ws.send(["fra", "gmé", "", "nted ✓"])
            assert await ws.recv() == "fragménted ✓"
            await ws.send([b"\x00\x01", b"", b"\x02" * 70000])
            assert await ws.recv() == b"\x00\x01" + b"\x02" * 70000

    run(main())


def test_ping_gets_pong(wsgate):
    server = wsgate(*ROUTES)

    async def main():
        async with client(server.url("/echo")) as ws:
            pong = await ws.ping(b"interop")
            await asyncio.wait_for(pong, TIMEOUT)
            await ws.send("after ping")
            assert await ws.recv() == "after ping"

    run(main())


def test_client_answering_keepalive_pings_stays_open(wsgate):
    server = wsgate(*ROUTES, "--ping-interval", "200ms", "--ping-timeout", "300ms")

    async def main():
        async with client(server.url("/echo"), ping_interval=None) as ws:
            await asyncio.sleep(1.2)  # several server pings, answered by websockets on its own
            await ws.send("still open")
            assert await ws.recv() == "still open"

    run(main())


def test_broadcast_between_two_clients(wsgate):
    server = wsgate(*ROUTES)

    async def main():
        async with client(server.url("/chat/room")) as a, client(server.url("/chat/room")) as b:
            await a.send("from a")
            assert await asyncio.wait_for(b.recv(), TIMEOUT) == "from a"
            await b.send(b"from b")
            assert await asyncio.wait_for(a.recv(), TIMEOUT) == b"from b"
            for index in range(100):
                await a.send(f"m{index}")
            for index in range(100):
                assert await asyncio.wait_for(b.recv(), TIMEOUT) == f"m{index}"

    run(main())


def test_normal_close_is_1000(wsgate):
    server = wsgate(*ROUTES)

    async def main():
        ws = await client(server.url("/echo"))
        await ws.close(code=1000, reason="bye")
        assert ws.close_code == 1000
        assert ws.close_reason == "bye"

    run(main())


def test_oversized_message_closes_with_1009(wsgate):
    server = wsgate(*ROUTES, "--max-message-size", "1KiB")

    async def main():
        async with client(server.url("/echo")) as ws:
            await ws.send("a" * 1024)
            assert await ws.recv() == "a" * 1024
            await ws.send("a" * 1025)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1009

    run(main())


def test_sigterm_closes_with_1001_and_exits_zero(wsgate):
    server = wsgate(*ROUTES, "--shutdown-timeout", "3s")

    async def main():
        async with client(server.url("/echo")) as one, client(server.url("/chat/x")) as two:
            await one.send("hi")
            assert await one.recv() == "hi"
            server.process.send_signal(signal.SIGTERM)
            for ws in (one, two):
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), TIMEOUT)
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == 1001

    run(main())
    assert server.wait() == 0


def test_subprotocol_negotiation(wsgate):
    server = wsgate(*ROUTES, "--subprotocol", "v2.chat", "--subprotocol", "v1.chat")

    async def main():
        async with client(server.url("/echo"), subprotocols=["v1.chat", "v2.chat"]) as ws:
            assert ws.subprotocol == "v2.chat"
        async with client(server.url("/echo"), subprotocols=["v1.chat"]) as ws:
            assert ws.subprotocol == "v1.chat"
        async with client(server.url("/echo"), subprotocols=["other"]) as ws:
            assert ws.subprotocol is None
            await ws.send("x")
            assert await ws.recv() == "x"

    run(main())


def test_refusals_are_seen_as_http_status(wsgate):
    server = wsgate(*ROUTES, "--max-connections", "1")

    async def main():
        with pytest.raises(InvalidStatus) as refused:
            await client(server.url("/nope"))
        assert refused.value.response.status_code == 404
        async with client(server.url("/echo")):
            with pytest.raises(InvalidStatus) as refused:
                await client(server.url("/echo"))
            assert refused.value.response.status_code == 503

    run(main())
