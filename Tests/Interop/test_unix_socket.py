"""End to end: --unixsocket (issue 12) with Python's `websockets.unix_connect`; the stdlib's socket
module makes the stale and live socket files."""

import os
import socket
import stat
import subprocess

import pytest
from websockets.asyncio.client import unix_connect

from test_interop import BINARY, ROOT, TIMEOUT, client, run, wsgate  # noqa: F401 (the fixture)

ENV = str(ROOT / "handlers" / "env")


async def environment_of(ws):
    variables = {}
    async for line in ws:
        name, _, value = line.partition("=")
        variables[name] = value
    return variables


def test_unix_socket_only_serves_with_websocketds_environment(wsgate, tmp_path):
    path = tmp_path / "wsgate.sock"
    server = wsgate("--unixsocket", str(path), "--route", f"/env={ENV}", "--route", "/echo=echo", tcp=False)
    assert server.port is None
    assert not any("event=server.listen address=" in line for line in server.lines)
    # The default mode: owner and group may connect, others not.
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o660

    async def main():
        async with unix_connect(str(path), "ws://localhost/echo", open_timeout=TIMEOUT) as ws:
            await ws.send("over a unix socket")
            assert await ws.recv() == "over a unix socket"
        async with unix_connect(str(path), "ws://localhost/env?q=1", open_timeout=TIMEOUT) as ws:
            variables = await environment_of(ws)
        assert variables["REMOTE_ADDR"] == "unix-socket"
        assert variables["REMOTE_HOST"] == "unix-socket"
        assert variables["REMOTE_PORT"] == ""
        assert variables["QUERY_STRING"] == "q=1"
    run(main())

    # Stopping removes the socket file it made.
    server.process.terminate()
    assert server.wait(timeout=10) == 0
    assert not path.exists()


def test_unix_socket_beside_tcp_with_mode(wsgate, tmp_path):
    path = tmp_path / "both.sock"
    server = wsgate("--unixsocket", str(path), "--unixsocket-mode", "0600", "--route", "/echo=echo")
    assert server.port is not None
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    async def main():
        async with client(server.url("/echo")) as ws:
            await ws.send("tcp")
            assert await ws.recv() == "tcp"
        async with unix_connect(str(path), "ws://localhost/echo", open_timeout=TIMEOUT) as ws:
            await ws.send("unix")
            assert await ws.recv() == "unix"
    run(main())


def test_stale_socket_file_is_replaced(wsgate, tmp_path):
    path = tmp_path / "stale.sock"
    left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left.bind(str(path))
    left.close()  # the file stays, nothing accepts on it
    assert path.exists()
    server = wsgate("--unixsocket", str(path), "--route", "/echo=echo", tcp=False)

    async def main():
        async with unix_connect(str(path), "ws://localhost/echo", open_timeout=TIMEOUT) as ws:
            await ws.send("fresh")
            assert await ws.recv() == "fresh"
    run(main())
    assert server.process.poll() is None


def start_failure(*flags):
    done = subprocess.run([str(BINARY), "--route", "/e=echo", *flags], capture_output=True, text=True, timeout=20)
    return done.returncode, done.stderr


def test_live_socket_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "live.sock"
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    live.bind(str(path))
    live.listen()
    try:
        status, stderr = start_failure("--unixsocket", str(path))
        assert status == 2
        assert "a live socket" in stderr and stderr.count("\n") == 1
        assert path.exists()
    finally:
        live.close()


def test_a_file_that_is_not_a_socket_is_refused(tmp_path):
    path = tmp_path / "regular"
    path.write_text("keep me")
    status, stderr = start_failure("--unixsocket", str(path))
    assert status == 2 and "is not a socket" in stderr
    assert path.read_text() == "keep me"


@pytest.mark.parametrize("flags, message", [
    (["--unixsocket-mode", "999"], "not an octal file mode"),
    (["--unixsocket", "/" + "x" * 200], "longer than 107 bytes"),
])
def test_bad_unix_socket_flags(flags, message):
    status, stderr = start_failure(*flags)
    assert status == 2 and message in stderr
