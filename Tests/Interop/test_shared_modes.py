"""End to end: the long-lived handler modes (shared, fanout) and pty, driven by Python's
`websockets` against the built wsgate.

The shared program is Tests/Interop/programs/mirror: it tells each client its id, shows the raw
line it got on stdin, echoes, and writes any command line a client asks for, so each rule of the
protocol is checked over the wire in both directions. Every receive has a timeout; "X got nothing
else" is checked by order (the next message X gets is a later one), never by sleeping.
"""

import asyncio
import os
import pathlib
import re
import shlex
import signal
import socket
import subprocess
import sys
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_interop import BINARY, ROOT, TIMEOUT, Wsgate, client, run, wsgate  # noqa: E402,F401 (wsgate: fixture)

MIRROR = shlex.quote(str(ROOT / "Tests" / "Interop" / "programs" / "mirror"))


async def recv(ws, timeout=TIMEOUT):
    return await asyncio.wait_for(ws.recv(), timeout)


async def join(server, path):
    """A client on `path` and its session id, from the mirror's greeting."""
    ws = await client(server.url(path))
    greeting = await recv(ws)
    match = re.fullmatch(r"opened (\d+) (\S+) 127\.0\.0\.1:(\d+) pid=(\d+)", greeting)
    assert match, greeting
    assert match.group(2) == path
    return ws, int(match.group(1)), int(match.group(4))


def rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def wait_for_log(server, pattern, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(re.search(pattern, line) for line in list(server.lines)):
            return
        time.sleep(0.05)
    pytest.fail(f"no log line matching {pattern!r}; log:\n" + "\n".join(server.lines[-30:]))


def test_shared_protocol_both_ways(wsgate):
    server = wsgate("--route", f"/s/*=shared:{MIRROR}")

    async def main():
        a, a_id, pid = await join(server, "/s/a?x=1")
        b, b_id, same_pid = await join(server, "/s/b")
        assert same_pid == pid and a_id != b_id  # one program, one id per session

        # wsgate → program: `\`, newline and CR escaped, nothing else.
        await a.send("?x\\y\nz\r\t\u00e9")
        assert await recv(a) == f"msg {a_id} ?x\\\\y\\nz\\r\t\u00e9"
        # A round trip through the escaping is exact.
        for text in ["", " spaced ", "a\\b\nc\rd", "\\n", "\u20ac\U0001F600"]:
            await a.send(text)
            assert await recv(a) == text
        # Binary goes as base64 both ways.
        await a.send(b"\x00\xff\x10binary")
        assert await recv(a) == b"\x00\xff\x10binary"
        # program → wsgate: id lists, all, others; text unescaped.
        await a.send(f"!send {a_id},{b_id} to both\\nlines\\\\x")
        assert await recv(a) == "to both\nlines\\x"
        assert await recv(b) == "to both\nlines\\x"
        await a.send(f"!others {a_id} not for a")
        assert await recv(b) == "not for a"
        await a.send("!all everyone")
        assert await recv(a) == "everyone"  # a got nothing in between
        assert await recv(b) == "everyone"
        await a.send(f"!bin {b_id} AAEC")
        assert await recv(b) == b"\x00\x01\x02"
        # Unknown commands, malformed lines and unknown ids are skipped; the program goes on.
        await a.send("!bogus 1 2")
        await a.send("!send nope x")
        await a.send("!send 999999 nobody")
        await a.send("!close 1 1006")
        await a.send(f"!send {a_id} still here")
        assert await recv(a) == "still here"
        # A close from the program, with code and reason; the others hear the close event.
        await a.send(f"!close {b_id} 4001 bye now")
        with pytest.raises(ConnectionClosed):
            await recv(b)
        assert (b.close_code, b.close_reason) == (4001, "bye now")
        assert await recv(a) == f"closed {b_id} 4001"
        # A client that vanishes is reported with 1006.
        c, c_id, _ = await join(server, "/s/c")
        c.transport.abort()
        assert await recv(a) == f"closed {c_id} 1006"
        await a.close()
        assert a.close_code == 1000

    run(main())
    wait_for_log(server, r"event=shared\.bad_line .*unknown command")
    wait_for_log(server, r"event=shared\.bad_line .*close code 1006")


def test_fanout_sends_every_line_to_every_client(wsgate):
    server = wsgate("--route", "/f=fanout:cat")

    async def main():
        a = await client(server.url("/f"))
        b = await client(server.url("/f"))
        await a.send("one")
        assert await recv(a) == "one"
        assert await recv(b) == "one"
        # A client that joins later gets only what is written after it joined.
        late = await client(server.url("/f"))
        await b.send("two\nthree")
        for ws in (a, b, late):
            assert await recv(ws) == "two"
            assert await recv(ws) == "three"
        await late.send(b"\x00")
        with pytest.raises(ConnectionClosed):
            await recv(late)
        assert late.close_code == 1003
        await a.close()
        await b.close()

    run(main())


class Stalled:
    """A WebSocket client that completes the handshake, then never reads again."""

    def __init__(self, port, path):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def close(self):
        self.sock.close()


async def flood_through(sender, reader, make_command, count=2500, size=4096, window=16):
    """Sends `count` messages of `size` bytes through the route, `window` at a time, and checks
    that `reader` (and the sender, also a member) get every one in order."""
    payload = "x" * size
    for start in range(0, count, window):
        for index in range(start, min(start + window, count)):
            await sender.send(make_command(f"{index:06d}{payload}"))
        for index in range(start, min(start + window, count)):
            for ws in (sender, reader):
                message = await recv(ws)
                while message.startswith("closed "):  # the mirror announcing the stalled client's end
                    message = await recv(ws)
                assert message[:6] == f"{index:06d}"


@pytest.mark.parametrize("mode", ["shared", "fanout"])
def test_client_that_never_reads_is_dropped_and_others_keep_receiving(wsgate, mode):
    route = f"/r=shared:{MIRROR}" if mode == "shared" else "/r=fanout:cat"
    server = wsgate("--route", route, "--max-queued-bytes", "256KiB")
    stalled = Stalled(server.port, "/r")

    async def main():
        sender = await client(server.url("/r"), max_queue=None)
        reader = await client(server.url("/r"), max_queue=None)
        if mode == "shared":
            await recv(sender)
            await recv(reader)
        before = rss_kib(server.process.pid)
        await flood_through(sender, reader, (lambda text: "!all " + text) if mode == "shared" else (lambda text: text))
        growth = rss_kib(server.process.pid) - before
        assert growth < 16 * 1024, f"wsgate grew by {growth} KiB"
        await sender.close()
        await reader.close()

    run(main(), timeout=120)
    wait_for_log(server, r"event=session\.slow_consumer")
    stalled.close()


def test_program_that_stops_reading_stdin_throttles_its_clients(wsgate):
    # The program never reads stdin: once --max-queued-bytes wait for it, wsgate stops reading
    # every client of the route; TCP pushes back and wsgate's memory stays flat.
    server = wsgate("--route", "/s=shared:sleep 600", "--max-queued-bytes", "64KiB")

    async def main():
        first = await client(server.url("/s"))
        second = await client(server.url("/s"))
        before = rss_kib(server.process.pid)
        payload = "y" * 4096

        async def flood(ws):
            for _ in range(5000):  # 20 MB: far more than any buffer on the way
                await ws.send(payload)

        done, pending = await asyncio.wait([asyncio.create_task(flood(first)), asyncio.create_task(flood(second))],
                                           timeout=4)
        assert not done, "20 MB went into a program that reads nothing"
        growth = rss_kib(server.process.pid) - before
        assert growth < 8 * 1024, f"wsgate grew by {growth} KiB"
        for task in pending:
            task.cancel()
        first.transport.abort()
        second.transport.abort()

    run(main(), timeout=60)


def test_shared_program_restarts_with_1012_and_503_while_down(wsgate, tmp_path):
    flag = tmp_path / "down"
    server = wsgate("--route", f"/r=shared:{MIRROR} --down {shlex.quote(str(flag))}")

    async def main():
        ws, _, pid = await join(server, "/r")
        flag.touch()
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(ConnectionClosed):
            await recv(ws)
        assert ws.close_code == 1012
        # While the program cannot stay up, new upgrades are refused with 503.
        refused = False
        deadline = time.monotonic() + 10
        while not refused and time.monotonic() < deadline:
            try:
                async with client(server.url("/r")) as probe:
                    await asyncio.wait_for(probe.wait_closed(), TIMEOUT)
            except InvalidStatus as error:
                refused = error.response.status_code == 503
            except (ConnectionClosed, TimeoutError, OSError):
                pass
        assert refused
        flag.unlink()
        # Once it can start again, the route is served again (after the back-off, at most 10 s).
        deadline = time.monotonic() + 40
        while True:
            try:
                again, _, new_pid = await join(server, "/r")
                break
            except (InvalidStatus, ConnectionClosed, AssertionError, TimeoutError, OSError):
                assert time.monotonic() < deadline, "route not served again"
                await asyncio.sleep(0.2)
        assert new_pid != pid
        await again.send("back")
        assert await recv(again) == "back"
        await again.close()

    run(main(), timeout=120)
    wait_for_log(server, r"event=shared\.exit .*killed by SIGKILL")
    wait_for_log(server, r"event=shared\.restarted")


PRINT_WITH_PAUSES = "import time\nfor word in ('one', 'two', 'three'):\n    print(word)\n    time.sleep(1.5)\n"


@pytest.mark.parametrize("mode", ["pty", "lines"])
def test_pty_delivers_each_line_before_the_next_pause_ends(wsgate, tmp_path, mode):
    script = tmp_path / "pauses.py"
    script.write_text(PRINT_WITH_PAUSES)
    server = wsgate("--route", f"/p={mode}:python3 {shlex.quote(str(script))}")

    async def main():
        async with client(server.url("/p")) as ws:
            arrivals = []
            for _ in range(3):
                arrivals.append((await recv(ws, timeout=15), time.monotonic()))
            words = [word for word, _ in arrivals]
            assert words == ["one", "two", "three"]
            spread = arrivals[2][1] - arrivals[0][1]
            if mode == "pty":
                # Line-buffered on a terminal: the lines come 1.5 s apart.
                assert spread > 2.0, arrivals
            else:
                # On a pipe, Python buffers until it exits: all at once (the reason pty exists).
                assert spread < 1.0, arrivals
            await asyncio.wait_for(ws.wait_closed(), 15)
            assert ws.close_code == 1000

    run(main(), timeout=40)


def test_pty_program_sees_a_terminal_and_no_echo(wsgate):
    server = wsgate("--route", "/t=pty:sh -c 'test -t 0 && test -t 1 && ! test -t 2 && echo tty; read x; echo \"got $x\"'")

    async def main():
        async with client(server.url("/t")) as ws:
            assert await recv(ws) == "tty"
            await ws.send("hello")
            assert await recv(ws) == "got hello"  # no echo of the input, no \r
            await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
            assert ws.close_code == 1000

    run(main())


def children_of(pid):
    found = set()
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.update(int(child) for child in text)
    return found


def alive(pid):
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_shutdown_leaves_no_process_behind(wsgate, tmp_path):
    server = wsgate(
        "--route", f"/s=shared:{MIRROR}", "--route", "/f=fanout:cat", "--route", "/c=fanout:" + str(ROOT / "handlers" / "clock"),
        "--route", "/p=pty:cat", "--route", "/l=cat",
    )

    async def main():
        clients = [await client(server.url(path)) for path in ("/s", "/f", "/c", "/p", "/l")]
        await recv(clients[0])
        await recv(clients[2], timeout=5)  # the clock ticks for everyone
        children = children_of(server.process.pid)
        assert len(children) == 5, children
        server.process.send_signal(signal.SIGTERM)
        for ws in clients:
            with pytest.raises(ConnectionClosed):
                while True:
                    await recv(ws)
            assert ws.close_code == 1001
        return children

    children = run(main(), timeout=30)
    assert server.wait(timeout=15) == 0
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in children if alive(pid)]


def start_failure(*flags):
    process = subprocess.run([str(BINARY), "--address", "127.0.0.1", "--port", "0", *flags],
                             capture_output=True, text=True, timeout=10)
    return process.returncode, process.stderr


def test_mode_mistakes_and_unstartable_programs_stop_wsgate_with_status_2(tmp_path):
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x7fNOT-AN-EXECUTABLE\x00\x01")
    garbage.chmod(0o755)
    status, stderr = start_failure("--route", f"/s=shared:{garbage}")
    assert status == 2 and stderr.startswith("wsgate: cannot start the program of /s") and "ENOEXEC" in stderr, stderr
    status, stderr = start_failure("--dir", f"shared:{tmp_path}")
    assert status == 2 and "--dir" in stderr and "per session" in stderr, stderr
    status, stderr = start_failure("--binary-route", "/b=pty:cat")
    assert status == 2 and "the mode is binary, not pty" in stderr, stderr
    status, stderr = start_failure("--route", "/x=bogus:cat")
    assert status == 2 and "program 'bogus:cat' not found" in stderr, stderr
    status, stderr = start_failure("--route", "/x=shared:")
    assert status == 2 and "--route /x: empty command" in stderr, stderr
    for stderr in [start_failure("--route", f"/s=shared:{garbage}")[1]]:
        assert len(stderr.strip().splitlines()) == 1, stderr


def test_command_form_takes_a_mode_and_serves_every_path_with_one_program(wsgate):
    server = Wsgate(f"shared:{ROOT / 'Tests' / 'Interop' / 'programs' / 'mirror'}")

    async def main():
        a, _, pid = await join(server, "/")
        b, _, other_pid = await join(server, "/any/path")
        assert pid == other_pid
        await a.send("!all both")
        assert await recv(a) == "both" and await recv(b) == "both"
        await a.close()
        await b.close()

    try:
        run(main())
    finally:
        server.stop()
