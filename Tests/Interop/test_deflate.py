"""Interop: permessage-deflate (RFC 7692) between wsgate and Python's `websockets`, which offers it
by default, plus the faults an honest client never sends (a decompression bomb, data that does not
inflate, RSV1 where it may not be) from a raw socket.

Helpers come from test_interop (each test starts its own wsgate on a free port).
"""

import asyncio
import base64
import os
import re
import socket
import struct
import sys
import time
import zlib

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from test_interop import ROOT, TIMEOUT, client, run, wsgate  # noqa: E402,F401

ROUTES = ("--route", "/echo=echo", "--route", "/chat/*=broadcast",
          "--route", f"/lines={ROOT / 'handlers' / 'echo'}")
TEXT = "the quick brown fox jumps over the lazy dog; " * 40


def negotiated(ws):
    return ws.response.headers.get("Sec-WebSocket-Extensions")


def close_line(server, timeout=TIMEOUT):
    """The access log's session.close line (the test asks for --loglevel access)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in server.lines:
            if "event=session.close" in line:
                return line
        time.sleep(0.02)
    pytest.fail("no session.close line; log:\n" + "\n".join(server.lines))


def field(line, name):
    return int(re.search(rf"\b{name}=(\d+)", line).group(1))


@pytest.mark.parametrize("path", ["/echo", "/lines"])
def test_python_client_compresses_both_ways(wsgate, path):
    server = wsgate(*ROUTES, "--compression", "--loglevel", "access")

    async def main():
        async with client(server.url(path)) as ws:
            assert negotiated(ws) == "permessage-deflate; server_no_context_takeover"
            for i in range(20):
                await ws.send(f"{i} {TEXT}")
                assert await ws.recv() == f"{i} {TEXT}"
            if path == "/echo":
                for size in (0, 1, 63, 64, 1000, 200_000):
                    data = bytes((i * 7) & 0x3F for i in range(size))
                    await ws.send(data)
                    assert await ws.recv() == data
                await ws.send("é" * 5000)
                assert await ws.recv() == "é" * 5000

    run(main())
    line = close_line(server)
    # Both directions were compressed: 20 copies of ~1.8 KB of text cost far less on the wire.
    assert field(line, "bytes_out") < 20 * len(TEXT) // 4
    assert field(line, "bytes_in") < 20 * len(TEXT) // 4


def test_without_the_flag_the_offer_is_declined(wsgate):
    server = wsgate(*ROUTES)

    async def main():
        async with client(server.url("/echo")) as ws:
            assert negotiated(ws) is None
            await ws.send(TEXT)
            assert await ws.recv() == TEXT

    run(main())


@pytest.mark.parametrize("flags, offer, answer", [
    (("--compression-context-takeover",), None, "permessage-deflate"),
    (("--compression-client-no-context-takeover",), None,
     "permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
    (("--compression-window-bits", "10", "--compression-client-window-bits", "9"), None,
     "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9"),
    (("--compression-context-takeover",), dict(server_max_window_bits=11, client_max_window_bits=12),
     "permessage-deflate; server_max_window_bits=11; client_max_window_bits=12"),
    ((), dict(server_no_context_takeover=True, client_no_context_takeover=True),
     "permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
])
def test_settings_and_offers(wsgate, flags, offer, answer):
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

    server = wsgate(*ROUTES, "--compression", "--compression-threshold", "0", *flags)
    extensions = None
    if offer is not None:
        extensions = [ClientPerMessageDeflateFactory(**offer)]

    async def main():
        options = {"extensions": extensions} if extensions else {}
        async with client(server.url("/echo"), **options) as ws:
            assert negotiated(ws) == answer
            for i in range(30):
                message = f"message {i}: {TEXT[: i * 40]}"
                await ws.send(message)
                assert await ws.recv() == message

    run(main())


def test_broadcast_to_compressed_and_plain_members(wsgate):
    server = wsgate(*ROUTES, "--compression")

    async def main():
        async with client(server.url("/chat/r")) as a, client(server.url("/chat/r")) as b, \
                client(server.url("/chat/r"), compression=None) as plain:
            assert negotiated(a) and negotiated(b) and negotiated(plain) is None
            await asyncio.sleep(0.1)
            for i in range(5):
                await a.send(f"{i} {TEXT}")
                assert await b.recv() == f"{i} {TEXT}"
                assert await plain.recv() == f"{i} {TEXT}"
            await plain.send("short")
            assert await a.recv() == "short"
            assert await b.recv() == "short"

    run(main())


def test_broadcast_with_context_takeover(wsgate):
    server = wsgate(*ROUTES, "--compression", "--compression-context-takeover")

    async def main():
        async with client(server.url("/chat/t")) as a, client(server.url("/chat/t")) as b:
            assert negotiated(b) == "permessage-deflate"
            await asyncio.sleep(0.1)
            for i in range(10):
                await a.send(f"{i} {TEXT}")
                assert await b.recv() == f"{i} {TEXT}"

    run(main())


# Raw-socket clients for what websockets would never send.

def raw_connect(port, offer="permessage-deflate"):
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  f"Sec-WebSocket-Extensions: {offer}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "connection closed during the handshake"
        head += chunk
    head, rest = head.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock, head.decode(), rest


def frame(opcode, payload, rsv1=False, fin=True):
    mask = os.urandom(4)
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", first, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, n)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def deflate(data, level=6):
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4]


def close_code_received(sock, rest):
    """Reads frames until a close frame; returns its code."""
    buffer = rest
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        while len(buffer) >= 2:
            length = buffer[1] & 0x7F
            offset = 2
            if length == 126:
                length, offset = struct.unpack("!H", buffer[2:4])[0], 4
            elif length == 127:
                length, offset = struct.unpack("!Q", buffer[2:10])[0], 10
            if len(buffer) < offset + length:
                break
            opcode, payload = buffer[0] & 0x0F, buffer[offset:offset + length]
            buffer = buffer[offset + length:]
            if opcode == 0x8:
                return struct.unpack("!H", payload[:2])[0]
        chunk = sock.recv(65536)
        if not chunk:
            break
        buffer += chunk
    pytest.fail("no close frame")


def test_decompression_bomb_closes_with_1009_quickly(wsgate):
    server = wsgate(*ROUTES, "--compression", "--max-message-size", "1MiB")
    bomb = deflate(bytes(256 << 20), level=9)  # 256 MiB of zeros in about 256 KB
    assert len(bomb) < 300_000
    sock, head, rest = raw_connect(server.port)
    assert "permessage-deflate" in head
    started = time.monotonic()
    sock.sendall(frame(0x2, bomb, rsv1=True))
    assert close_code_received(sock, rest) == 1009
    assert time.monotonic() - started < 2


def test_data_that_does_not_inflate_closes_with_1007(wsgate):
    server = wsgate(*ROUTES, "--compression")
    sock, _, rest = raw_connect(server.port)
    sock.sendall(frame(0x1, b"\xff\xff\xff", rsv1=True))
    assert close_code_received(sock, rest) == 1007


@pytest.mark.parametrize("frames", [
    [frame(0x9, b"", rsv1=True)],  # RSV1 on a control frame
    [frame(0x1, deflate(b"Hel"), rsv1=True, fin=False), frame(0x0, b"", rsv1=True)],  # on a continuation
])
def test_rsv1_where_it_may_not_be_closes_with_1002(wsgate, frames):
    server = wsgate(*ROUTES, "--compression")
    sock, _, rest = raw_connect(server.port)
    sock.sendall(b"".join(frames))
    assert close_code_received(sock, rest) == 1002


def test_rsv1_without_negotiation_closes_with_1002(wsgate):
    server = wsgate(*ROUTES)
    sock, head, rest = raw_connect(server.port)
    assert "Extensions" not in head
    sock.sendall(frame(0x1, deflate(b"Hello"), rsv1=True))
    assert close_code_received(sock, rest) == 1002


def test_offer_of_an_8_bit_server_window_is_declined(wsgate):
    server = wsgate(*ROUTES, "--compression")
    sock, head, _ = raw_connect(server.port, "permessage-deflate; server_max_window_bits=8")
    assert "Sec-WebSocket-Extensions" not in head
    sock.close()
    sock, head, _ = raw_connect(server.port, "permessage-deflate; server_max_window_bits=8, permessage-deflate")
    assert "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover" in head
    sock.close()


@pytest.mark.parametrize("takeover", [False, True])
def test_fanout_and_shared_routes_compress(wsgate, takeover):
    mirror = ROOT / "Tests" / "Interop" / "programs" / "mirror"
    flags = ("--compression-context-takeover",) if takeover else ()
    server = wsgate("--route", "/f=fanout:cat", "--route", f"/s=shared:{mirror}", "--compression", *flags)

    async def main():
        async with client(server.url("/f")) as a, client(server.url("/f")) as b, \
                client(server.url("/f"), compression=None) as plain:
            assert negotiated(a) and negotiated(plain) is None
            await asyncio.sleep(0.1)
            for i in range(5):
                await a.send(f"{i} {TEXT}")
                for ws in (a, b, plain):
                    assert await ws.recv() == f"{i} {TEXT}"
        async with client(server.url("/s")) as s:
            opened = await s.recv()
            assert opened.startswith("opened ")
            await s.send(TEXT)
            assert await s.recv() == TEXT

    run(main())


# wsgate's client tools offering compression.

BINARY = os.environ.get("WSGATE_BIN", str(ROOT / ".build" / "debug" / "wsgate"))


class DeflateEchoServer:
    """Python websockets' server (compression on, its default) echoing on a free port in a thread;
    records the extensions each connection agreed."""

    def __init__(self):
        import threading
        from websockets.asyncio.server import serve

        self.agreed = []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def handler(ws):
            self.agreed.append(ws.response.headers.get("Sec-WebSocket-Extensions"))
            async for message in ws:
                await ws.send(message)

        async def main():
            self.stopping = asyncio.Event()
            async with serve(handler, "127.0.0.1", 0, max_size=None) as server:
                self.port = server.sockets[0].getsockname()[1]
                ready.set()
                await self.stopping.wait()

        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(main(),), daemon=True)
        self.thread.start()
        assert ready.wait(TIMEOUT)

    def stop(self):
        self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(TIMEOUT)


@pytest.fixture
def python_server():
    server = DeflateEchoServer()
    yield server
    server.stop()


def test_wsgate_client_compression_against_python_server(python_server):
    import subprocess

    lines = [f"{i} {TEXT}" for i in range(10)] + ["", "é✓", "short"]
    result = subprocess.run([BINARY, "client", "--compression", f"ws://127.0.0.1:{python_server.port}/"],
                            input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=15)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:-1] == lines
    assert python_server.agreed == ["permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"]


def test_wsgate_send_and_bench_compression_against_python_server(python_server):
    import subprocess

    url = f"ws://127.0.0.1:{python_server.port}/"
    result = subprocess.run([BINARY, "send", "--compression", url, TEXT, "x", "-n", "2"],
                            capture_output=True, text=True, timeout=15)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{TEXT}\nx\n"
    result = subprocess.run([BINARY, "bench", "--compression", url, "-c", "4", "-p", "4", "-n", "400", "-s", "1KiB"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert python_server.agreed[1:] and all(a and a.startswith("permessage-deflate") for a in python_server.agreed)


def test_wsgate_send_compresses_against_wsgate(wsgate):
    import subprocess

    server = wsgate(*ROUTES, "--compression", "--loglevel", "access")
    result = subprocess.run([BINARY, "send", "--compression", server.url("/echo"), TEXT * 10, "-n", "1"],
                            capture_output=True, text=True, timeout=15)
    assert result.returncode == 0, result.stderr
    assert result.stdout == TEXT * 10 + "\n"
    line = close_line(server)
    assert "compression=\"permessage-deflate; server_no_context_takeover\"" in "\n".join(server.lines)
    assert field(line, "bytes_in") < len(TEXT)
    assert field(line, "bytes_out") < len(TEXT)
