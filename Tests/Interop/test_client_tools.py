"""Interop: wsgate's client tools (client, client --exec, send, bench) against an independent
server, Python's `websockets`.

The server runs in this process, on its own thread and event loop, on a free port. It counts the
messages it receives, which is the independent measurement a `wsgate bench` run is checked
against. The binary is $WSGATE_BIN, else .build/debug/wsgate; every wait has a timeout.
"""

import asyncio
import json
import os
import pathlib
import select
import signal
import subprocess
import threading
import time
from http import HTTPStatus

import pytest
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = pathlib.Path(os.environ.get("WSGATE_BIN", ROOT / ".build" / "debug" / "wsgate"))
TIMEOUT = 5
RELAYED = ["relay 1", "relay 2 ✓", "relay 3"]


class EchoServer:
    """websockets' server on 127.0.0.1: /echo echoes, /relay sends RELAYED first and records the
    replies, /flood sends "y" until the client closes, /drop ends the TCP connection without a
    close frame, /refuse answers 502 with a reason in the body, any other path is refused with 404.
    `received` counts every message it read; `close_codes` has the code each client closed with."""

    def __init__(self):
        self.received = 0
        self.active = 0
        self.relayed = []
        self.close_codes = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = None
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),), daemon=True)
        self.thread.start()
        if not self.ready.wait(TIMEOUT):
            pytest.fail("the websockets server did not start")

    async def _main(self):
        self.stopping = asyncio.Event()
        async with serve(self._handle, "127.0.0.1", 0, max_size=None, process_request=self._route) as server:
            self.port = server.sockets[0].getsockname()[1]
            self.ready.set()
            await self.stopping.wait()

    def _route(self, connection, request):
        if request.path == "/refuse":
            return connection.respond(HTTPStatus.BAD_GATEWAY, "cannot start program ./x: EACCES\n")
        if request.path not in ("/echo", "/relay", "/flood", "/drop"):
            return connection.respond(HTTPStatus.NOT_FOUND, "no such route\n")
        return None

    async def _handle(self, ws):
        self.active += 1
        try:
            if ws.request.path == "/flood":
                while True:
                    for _ in range(100):
                        await ws.send("y")
                    # send() yields only when the socket pushes back: without this, a client that
                    # keeps up would starve this server's reading, and its close frame go unseen.
                    await asyncio.sleep(0)
            if ws.request.path == "/drop":
                ws.transport.close()
                return
            if ws.request.path == "/relay":
                for message in RELAYED:
                    await ws.send(message)
                for _ in RELAYED:
                    self.relayed.append(await ws.recv())
                await ws.close(1000)
                return
            async for message in ws:
                self.received += 1
                await ws.send(message)
        except ConnectionClosed:
            pass  # the client closed (a flood ends so)
        finally:
            if ws.protocol.close_rcvd is not None:
                self.close_codes.append(ws.protocol.close_rcvd.code)
            self.active -= 1

    def url(self, path):
        return f"ws://127.0.0.1:{self.port}{path}"

    def settle(self, timeout=TIMEOUT):
        """Waits until every session has ended, so the counts are final."""
        done = threading.Event()

        async def poll():
            while self.active:
                await asyncio.sleep(0.01)
            done.set()

        asyncio.run_coroutine_threadsafe(poll(), self.loop)
        if not done.wait(timeout):
            pytest.fail(f"{self.active} sessions still open after {timeout} s")

    def stop(self):
        self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(TIMEOUT)


@pytest.fixture
def server():
    if not BINARY.exists():
        pytest.fail(f"wsgate binary not found at {BINARY}: run swift build or set WSGATE_BIN")
    echo = EchoServer()
    yield echo
    echo.stop()


def wsgate(*arguments, input=b"", timeout=10):
    """Runs wsgate to completion with `input` on stdin; kills it and fails when it overruns."""
    try:
        return subprocess.run([str(BINARY), *arguments], input=input, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"wsgate {' '.join(arguments)} did not exit within {timeout} s")


def test_send_gets_the_echoes(server):
    result = wsgate("send", server.url("/echo"), "hello", "wörld", "", "-n", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == "hello\nwörld\n\n"


def test_send_binary_prints_hex(server):
    result = wsgate("send", server.url("/echo"), "--binary", "AB", "-n", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"[binary 2 bytes] 41 42\n"


def test_send_fails_on_fewer_replies(server):
    result = wsgate("send", server.url("/echo"), "one", "-n", "2", "--wait", "300ms")
    assert result.returncode == 1
    assert result.stdout == b"one\n"
    assert b"1 of 2 replies" in result.stderr


class Interactive:
    """wsgate with stdin, stdout and stderr on pipes, driven a message at a time."""

    def __init__(self, *arguments):
        self.process = subprocess.Popen([str(BINARY), *arguments], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
        self.output = b""

    def write(self, data):
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def read(self, count, timeout=TIMEOUT):
        """Exactly `count` more bytes of stdout, waiting at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        start = len(self.output)
        while len(self.output) < start + count:
            ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(self.process.stdout.fileno(), 65536) if ready else b""
            if not chunk:
                self.process.kill()
                pytest.fail(f"wanted {count} bytes on stdout, got {self.output[start:]!r}")
            self.output += chunk
        return self.output[start:start + count]

    def finish(self, timeout=TIMEOUT):
        """Closes stdin (Ctrl-D); the exit status and the rest of stdout and stderr."""
        try:
            rest, errors = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            pytest.fail(f"wsgate did not exit within {timeout} s of end of input")
        return self.process.returncode, rest, errors


def test_client_through_a_pipe(server):
    client = Interactive("client", server.url("/echo"))
    for line in ["one", "two ✓", "", "last"]:
        client.write(line.encode() + b"\n")
        assert client.read(len(line.encode()) + 1) == line.encode() + b"\n"
    status, rest, errors = client.finish()
    assert status == 0, errors
    assert rest == b""
    assert errors.startswith(b"closed: 1000"), errors


def test_client_raw_binary_round_trip(server):
    client = Interactive("client", server.url("/echo"), "--binary", "--raw")
    payload = bytes([0, 255, 10, 13, 65])
    client.write(payload)
    assert client.read(len(payload)) == payload
    status, rest, errors = client.finish()
    assert status == 0, errors
    assert rest == b""


def test_client_exec_cat_relays_what_the_server_sends(server):
    result = wsgate("client", server.url("/relay"), "--exec", "cat")
    assert result.returncode == 0, result.stderr
    assert server.relayed == RELAYED


def test_client_exec_program_lines_are_sent_and_echoes_come_back(server):
    program = "sh -c 'echo hi; echo there; read a; read b; echo \"got [$a] [$b]\" >&2'"
    result = wsgate("client", server.url("/echo"), "--exec", program)
    assert result.returncode == 0, result.stderr
    assert b"got [hi] [there]" in result.stderr


def test_refusal_by_an_independent_server_is_reported(server):
    for command in (["client"], ["send", "x"]):
        result = wsgate(command[0], server.url("/missing"), *command[1:])
        assert result.returncode == 1
        lines = result.stderr.decode().splitlines()
        assert len(lines) == 1 and "404" in lines[0], result.stderr


def test_bench_completed_matches_the_servers_own_count(server):
    connections, in_flight = 4, 4
    result = wsgate("bench", server.url("/echo"), "-c", str(connections), "-p", str(in_flight), "-d", "2s", "--json",
                    timeout=15)
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(result.stdout)
    assert figures["errors"] == []
    completed = figures["completed"]
    assert completed > 0
    assert figures["per_second"] > 0
    latency = figures["latency_us"]
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    server.settle()
    # Bench stops counting with at most -p messages per connection still in flight.
    print(f"bench completed={completed} server received={server.received} "
          f"per_second={figures['per_second']} latency_us={latency}")
    assert completed <= server.received <= completed + connections * in_flight


def test_send_n_against_a_flood_prints_n_and_closes_normally(server):
    result = wsgate("send", server.url("/flood"), "-n", "5", timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"y\n" * 5
    server.settle()
    assert server.close_codes == [1000]


@pytest.mark.parametrize("input", [b"", b"x\n"])
def test_client_ends_within_its_linger_against_a_flood(server, input):
    started = time.monotonic()
    result = wsgate("client", server.url("/flood"), "--linger", "300ms", input=input, timeout=20)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 8
    assert set(result.stdout.splitlines()) <= {b"y"}
    server.settle()
    assert server.close_codes == [1000]


def test_refusal_reports_the_servers_reason(server):
    for command in (["client"], ["send", "x"]):
        result = wsgate(command[0], server.url("/refuse"), *command[1:])
        assert result.returncode == 1
        assert result.stderr.decode() == (f"wsgate {command[0]}: handshake refused: 502 Bad Gateway: "
                                          "cannot start program ./x: EACCES\n")


def test_connection_closed_without_a_close_frame_is_1006(server):
    result = wsgate("client", server.url("/drop"))
    assert result.returncode == 1
    assert result.stderr == b"connection closed without a close frame (1006)\n"


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_client_closes_with_going_away_on_signal(server, signum, status):
    client = Interactive("client", server.url("/echo"))
    client.write(b"hi\n")
    assert client.read(3) == b"hi\n"
    client.process.send_signal(signum)
    try:
        _, errors = client.process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        client.process.kill()
        pytest.fail("wsgate client did not exit after the signal")
    assert client.process.returncode == status, errors
    assert b"closing with 1001 (going away)" in errors
    server.settle()
    assert server.close_codes == [1001]


def test_client_exec_exits_with_the_programs_status(server):
    result = wsgate("client", server.url("/echo"), "--exec", "sh -c 'echo x; read a; exit 3'")
    assert result.returncode == 3, result.stderr
    assert result.stderr.endswith(b"wsgate client: the program exited with status 3\n")


def test_bench_n_completes_exactly_n(server):
    result = wsgate("bench", server.url("/echo"), "-n", "1000", "-c", "3", "-p", "7", "--json", timeout=20)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["completed"] == 1000
    server.settle()
    assert server.received == 1000
