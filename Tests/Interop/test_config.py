"""End to end: the configuration file (--config), `wsgate check`, per-route options over the wire,
and reload on SIGHUP with sessions open on every route.

wsgate is started by test_interop's fixture (which adds --address 127.0.0.1 --port 0: flags on the
command line win over the file's keys). Every wait has a bound; what a reload did is read from its
one `config.reloaded` log line, and checked over the wire.
"""

import asyncio
import base64
import os
import pathlib
import shlex
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_interop import BINARY, ROOT, TIMEOUT, client, run, wsgate  # noqa: E402,F401 (wsgate: fixture)

ECHO = str(ROOT / "handlers" / "echo")
MIRROR = str(ROOT / "Tests" / "Interop" / "programs" / "mirror")


def write_config(path, text):
    path.write_text(text)
    return str(path)


def wait_for_line(server, needle, after=0, timeout=15):
    """The first log line from index `after` on that contains `needle`; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in server.lines[after:]:
            if needle in line:
                return line
        time.sleep(0.05)
    pytest.fail(f"no log line with {needle!r} within {timeout} s; log:\n" + "\n".join(server.lines[-30:]))


def check(*arguments):
    return subprocess.run([str(BINARY), "check", *arguments], capture_output=True, text=True, timeout=30)


async def recv(ws, timeout=TIMEOUT):
    return await asyncio.wait_for(ws.recv(), timeout)


async def echoes(ws, text):
    await ws.send(text)
    assert await recv(ws) == text


async def closed_with(ws, code, timeout=TIMEOUT):
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code, closed.value


# wsgate check


def test_check_prints_routes_with_their_effective_options(tmp_path):
    config = write_config(tmp_path / "gw.toml", f"""
# a commented configuration
port = 9100
max-message-size = "64KiB"
header = ["X-All: 1"]

[[route]]
path = "/small"
handler = "echo"
max-message-size = 100
ping-interval = "500ms"
headers = ["X-Route: small"]

[[route]]
path = "/env"
handler = {ECHO!r}
maxforks = 3
[route.env]
GREETING = "hi"
""")
    result = check("--config", config)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "listen address=0.0.0.0,:: port=9100 scheme=ws"
    small = next(line for line in lines if "path=/small" in line)
    assert "handler=echo" in small and "max-message-size=100 " in small and "ping-interval=500ms" in small
    assert 'headers="X-Route: small"' in small  # a route's own value replaces the global one
    env = next(line for line in lines if "path=/env" in line)
    assert "max-message-size=65536 " in env and "maxforks=3" in env and 'env="GREETING=hi"' in env
    assert "ping-interval=30s" in env and 'headers="X-All: 1"' in env
    # A flag on the command line wins over the file's top-level key; a route's own still wins.
    result = check("--config", config, "--max-message-size", "2MiB", "--port", "9200")
    assert result.returncode == 0, result.stderr
    assert "port=9200" in result.stdout.splitlines()[0]
    assert "max-message-size=2097152 " in next(line for line in result.stdout.splitlines() if "path=/env" in line)
    assert "max-message-size=100 " in next(line for line in result.stdout.splitlines() if "path=/small" in line)


@pytest.mark.parametrize("text, where", [
    ('port = "x"\n', "gw.toml:1: port: 'x' is not a number in 0...65535"),
    ('\n\nloglevel = "loud"\n', "gw.toml:3: loglevel: 'loud' is not one of"),
    ('ssl = "yes"\n', "gw.toml:1: ssl: expects true or false, not a string"),
    ("bogus = 1\n", "gw.toml:1: bogus: unknown key"),
    ("help = true\n", "gw.toml:1: help: unknown key"),
    ('route = "/a=echo"\n', "gw.toml:1: route: routes are [[route]] tables"),
    ('[[route]]\npath = "/a"\n', "gw.toml:1: handler: a [[route]] needs a handler"),
    ('[[route]]\npath = "a"\nhandler = "echo"\n', "gw.toml:2: path: 'a' does not start with /"),
    ('[[route]]\npath = "/a"\nhandler = "./no-such-program"\n', "gw.toml:3: handler: program './no-such-program' not found"),
    ('[[route]]\npath = "/a"\nhandler = "echo"\nauth = "magic:x"\n',
     "gw.toml:4: auth: 'magic:x': unknown kind 'magic'"),
    ('[[route]]\npath = "/a"\nhandler = "echo"\nauth = "bearer:/nonexistent/tokens"\n',
     "gw.toml:4: auth: /nonexistent/tokens"),
    ('[[route]]\npath = "/a"\nhandler = "echo"\nmax-message-size = "huge"\n',
     "gw.toml:4: max-message-size: 'huge' is not a size"),
    ('[[route]]\npath = "/a"\nhandler = "echo"\nloglevel = "info"\n', "gw.toml:4: loglevel: unknown route option"),
    ('[[route]]\npath = "/a"\nhandler = "echo"\nenv = "A=1"\n', "gw.toml:4: env: expects a table"),
    ('[[route]]\npath = "/a"\nhandler = "echo"\ncompression = 1\n', "gw.toml:4: compression: expects true or false"),
    ('[[route]]\npath = "/a"\nhandler = "echo"\n[[route]]\npath = "/a"\nhandler = "echo"\n',
     "gw.toml:5: path: /a is routed twice (first by"),
    ("port = 80\nport = 81\n", "gw.toml:2: duplicate key 'port'"),
    ("a = 1.5\n", "gw.toml:1: floats are not supported"),
    ("", "nothing to serve"),
])
def test_check_names_file_line_and_key_and_exits_2(tmp_path, text, where):
    config = write_config(tmp_path / "gw.toml", text)
    result = check("--config", config)
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert where in result.stderr, result.stderr


def test_serving_a_bad_file_exits_2_without_listening(tmp_path):
    config = write_config(tmp_path / "gw.toml", "port = 80\n[[route]]\npath = \"/a\"\n")
    result = subprocess.run([str(BINARY), "--config", config], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "gw.toml:2: handler: a [[route]] needs a handler" in result.stderr
    missing = subprocess.run([str(BINARY), "--config", str(tmp_path / "none.toml")], capture_output=True, text=True,
                             timeout=30)
    assert missing.returncode == 2 and "none.toml: cannot read" in missing.stderr


# Per-route options over the wire


def test_two_routes_with_different_max_message_size(wsgate, tmp_path):
    config = write_config(tmp_path / "gw.toml", """
[[route]]
path = "/small"
handler = "echo"
max-message-size = 100

[[route]]
path = "/big"
handler = "echo"
""")
    server = wsgate("--config", config)

    async def main():
        async with client(server.url("/big")) as big, client(server.url("/small")) as small:
            await echoes(big, "x" * 1000)
            await echoes(small, "x" * 100)
            await small.send("x" * 101)
            await closed_with(small, 1009)
            await echoes(big, "still fine")

    run(main())


def test_per_route_auth_guards_one_route_and_leaves_the_other_open(wsgate, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("s3cret\n")
    config = write_config(tmp_path / "gw.toml", f"""
[[route]]
path = "/guarded"
handler = "echo"
auth = "bearer:{tokens}"

[[route]]
path = "/open"
handler = "echo"
""")
    server = wsgate("--config", config)

    async def main():
        with pytest.raises(InvalidStatus) as refused:
            async with client(server.url("/guarded")):
                pass
        assert refused.value.response.status_code == 401
        async with client(server.url("/guarded?access_token=s3cret")) as guarded, \
                client(server.url("/open")) as open_route:
            await echoes(guarded, "let in")
            await echoes(open_route, "never asked")

    run(main())


def raw_session(port, path):
    """A WebSocket connection over a plain socket, so that pings can be counted."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def count_pings(sock, seconds):
    """Pings the server sent within `seconds`, each answered with a pong (as a browser does)."""
    pings, buffer = 0, b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            break
        assert chunk, "the server closed the connection"
        buffer += chunk
        while len(buffer) >= 2 and len(buffer) >= 2 + (buffer[1] & 0x7F):
            opcode, length = buffer[0] & 0x0F, buffer[1] & 0x7F
            payload, buffer = buffer[2:2 + length], buffer[2 + length:]
            assert opcode == 0x9, f"unexpected frame opcode {opcode}"
            pings += 1
            mask = os.urandom(4)
            sock.sendall(bytes([0x8A, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    return pings


def test_two_routes_with_different_ping_interval(wsgate, tmp_path):
    config = write_config(tmp_path / "gw.toml", """
ping-interval = "1h"

[[route]]
path = "/fast"
handler = "echo"
ping-interval = "200ms"
ping-timeout = "1s"   # a pong is noticed when the timeout is checked: a ping about every 1.2 s

[[route]]
path = "/slow"
handler = "echo"
""")
    server = wsgate("--config", config)
    fast, slow = raw_session(server.port, "/fast"), raw_session(server.port, "/slow")
    try:
        # Counted one after the other: 4 s hold three ping cycles, two even on a loaded machine.
        assert count_pings(fast, 4) >= 2
        assert count_pings(slow, 1.5) == 0
    finally:
        fast.close()
        slow.close()


# Reload


ROUTES_BEFORE = f"""
[[route]]
path = "/keep"
handler = {ECHO!r}

[[route]]
path = "/change"
handler = {ECHO!r}
max-message-size = 1000

[[route]]
path = "/remove"
handler = {ECHO!r}

[[route]]
path = "/shared"
handler = {"shared:" + shlex.quote(MIRROR)!r}

[[route]]
path = "/steady"
handler = {"shared:" + shlex.quote(MIRROR) + " --down /nonexistent"!r}
"""

ROUTES_AFTER = f"""
[[route]]
path = "/keep"
handler = {ECHO!r}

[[route]]
path = "/change"
handler = "echo"
max-message-size = 10

[[route]]
path = "/add"
handler = "echo"

[[route]]
path = "/shared"
handler = {"shared:" + shlex.quote(MIRROR) + " --down /also-nonexistent"!r}

[[route]]
path = "/steady"
handler = {"shared:" + shlex.quote(MIRROR) + " --down /nonexistent"!r}
"""


async def join_shared(server, path):
    ws = await client(server.url(path))
    greeting = await recv(ws)
    assert greeting.startswith("opened "), greeting
    return ws, greeting


def test_reload_adds_changes_and_removes_routes_while_sessions_stay_open(wsgate, tmp_path):
    config = tmp_path / "gw.toml"
    write_config(config, ROUTES_BEFORE)
    server = wsgate("--config", str(config))

    async def main():
        keep = await client(server.url("/keep"))
        change = await client(server.url("/change"))
        remove = await client(server.url("/remove"))
        shared, _ = await join_shared(server, "/shared")
        steady, steady_greeting = await join_shared(server, "/steady")
        for ws in (keep, change, remove):
            await echoes(ws, "before")

        write_config(config, ROUTES_AFTER)
        mark = len(server.lines)
        server.process.send_signal(signal.SIGHUP)
        line = wait_for_line(server, "event=config.reloaded", after=mark)
        assert "routes_added=/add" in line and "routes_removed=/remove" in line, line
        assert "/change(handler,max-message-size)" in line and "/shared(handler)" in line, line
        assert "/keep" not in line and "/steady" not in line, line

        # The shared program whose command changed was restarted: its session got 1012.
        await closed_with(shared, 1012)
        # Every other session is still open, with the program and settings it started with.
        for ws in (keep, change, remove):
            await echoes(ws, "after the reload")
        await echoes(change, "y" * 500)  # over the new limit of /change, within the old one
        await steady.send("still here")
        assert await recv(steady) == "still here"

        # New connections get the new routes and options.
        async with client(server.url("/add")) as added:
            await echoes(added, "new route")
        with pytest.raises(InvalidStatus) as refused:
            await client(server.url("/remove"))
        assert refused.value.response.status_code == 404
        async with client(server.url("/change")) as changed:
            await changed.send("y" * 11)
            await closed_with(changed, 1009)
        fresh, greeting = await join_shared(server, "/shared")
        async with fresh:
            await fresh.send("new program")
            assert await recv(fresh) == "new program"
        again, greeting = await join_shared(server, "/steady")
        async with again:  # the unchanged program kept running: same pid
            assert greeting.split("pid=")[1] == steady_greeting.split("pid=")[1]
        for ws in (keep, change, remove, steady):
            await ws.close()

    run(main(), timeout=60)


def test_broken_file_on_reload_changes_nothing_and_is_logged(wsgate, tmp_path):
    config = tmp_path / "gw.toml"
    write_config(config, '[[route]]\npath = "/a"\nhandler = "echo"\nmax-message-size = 100\n')
    server = wsgate("--config", str(config))

    async def main():
        async with client(server.url("/a")) as before:
            await echoes(before, "x")
            write_config(config, '[[route]]\npath = "/b"\nhandler = "echo"\nmax-message-size = "huge"\n')
            mark = len(server.lines)
            server.process.send_signal(signal.SIGHUP)
            line = wait_for_line(server, "event=config.reload_failed", after=mark)
            assert "gw.toml:4: max-message-size: 'huge' is not a size" in line and "changed=nothing" in line, line
            assert not any("config.reloaded" in line for line in server.lines[mark:])
            await echoes(before, "still open")
            async with client(server.url("/a")) as after:
                await after.send("z" * 101)  # the old route, with its old options
                await closed_with(after, 1009)
            with pytest.raises(InvalidStatus):
                await client(server.url("/b"))

    run(main(), timeout=30)
