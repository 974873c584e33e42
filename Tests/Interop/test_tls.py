"""End to end over TLS (issue 9): the built wsgate with `--ssl` against Python's `websockets` with
an `ssl.SSLContext`, and against raw sockets for the misbehaving clients.

Every certificate is made here, in a temporary directory, with the `openssl` command: a root CA,
an intermediate CA that signs the server's certificate (so `--sslcert` is a chain file), a second
server certificate for the reload test, and a client CA with a client certificate for mutual TLS.
No private key is committed.
"""

import asyncio
import os
import pathlib
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import time

import pytest
from websockets.asyncio.client import connect

from test_interop import BINARY, ROOT, TIMEOUT, Wsgate, run

MIRROR = ROOT / "Tests" / "Interop" / "programs" / "mirror"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificate(directory, name, subject, issuer=None, ca=False, extensions=""):
    """name.key and name.pem: a P-256 key and its certificate, self-signed or signed by `issuer`."""
    key, pem = f"{name}.key", f"{name}.pem"
    if ca:
        extensions += "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
    else:
        extensions += "basicConstraints=CA:FALSE\n"
    extensions += "subjectKeyIdentifier=hash\n"
    if issuer:
        extensions += "authorityKeyIdentifier=keyid:always\n"
    (directory / f"{name}.ext").write_text(extensions)
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", f"{name}.csr", "-subj", subject, cwd=directory)
    signer = ["-CA", f"{issuer}.pem", "-CAkey", f"{issuer}.key", "-CAcreateserial"] if issuer else ["-key", key]
    openssl("x509", "-req", "-in", f"{name}.csr", *signer, "-days", "2", "-extfile", f"{name}.ext",
            "-out", pem, cwd=directory)
    return directory / pem, directory / key


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    server_ext = "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
    make_certificate(d, "root", "/CN=wsgate test root", ca=True)
    make_certificate(d, "intermediate", "/CN=wsgate test intermediate", issuer="root", ca=True)
    leaf, key = make_certificate(d, "server", "/CN=localhost/O=first", issuer="intermediate", extensions=server_ext)
    (d / "chain.pem").write_text(leaf.read_text() + (d / "intermediate.pem").read_text())
    make_certificate(d, "server2", "/CN=localhost/O=second", issuer="intermediate", extensions=server_ext)
    (d / "chain2.pem").write_text((d / "server2.pem").read_text() + (d / "intermediate.pem").read_text())
    make_certificate(d, "elsewhere", "/CN=elsewhere.example", issuer="root",
                     extensions="subjectAltName=DNS:elsewhere.example\nextendedKeyUsage=serverAuth\n")
    make_certificate(d, "clientca", "/CN=wsgate test client CA", ca=True)
    make_certificate(d, "alice", "/CN=alice/O=Example", issuer="clientca", extensions="extendedKeyUsage=clientAuth\n")
    make_certificate(d, "mallory", "/CN=mallory", issuer="root", extensions="extendedKeyUsage=clientAuth\n")
    return d


class TLSGate(Wsgate):
    def url(self, path):
        return f"wss://localhost:{self.port}{path}"


@pytest.fixture
def tls_gate(pki):
    started = []

    def start(*flags, cert=None, key=None):
        cert = cert or pki / "chain.pem"
        key = key or pki / "server.key"
        server = TLSGate("--ssl", "--sslcert", str(cert), "--sslkey", str(key), *flags)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def client_context(pki, cert=None):
    context = ssl.create_default_context(cafile=str(pki / "root.pem"))
    if cert:
        context.load_cert_chain(str(pki / f"{cert}.pem"), str(pki / f"{cert}.key"))
    return context


def tls_client(url, context, **options):
    options.setdefault("proxy", None)
    options.setdefault("open_timeout", TIMEOUT)
    options.setdefault("close_timeout", TIMEOUT)
    return connect(url, ssl=context, **options)


def wait_for_log(server, pattern, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(re.search(pattern, line) for line in server.lines):
            return
        time.sleep(0.02)
    raise AssertionError(f"no log line matching {pattern!r}; log:\n" + "\n".join(server.lines))


def rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def peer_certificate_subject(port, context):
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return dict(item[0] for item in tls.getpeercert()["subject"])


@pytest.mark.parametrize("size", [0, 125, 65536, 1 << 20])
def test_echo_text_and_binary_through_a_chain(tls_gate, pki, size):
    # The client trusts only the root: the intermediate must come from the server's chain file.
    server = tls_gate("--route", "/echo=echo")

    async def main():
        async with tls_client(server.url("/echo"), client_context(pki), max_size=2 << 20) as ws:
            text = "é" * (size // 2) + "a" * (size % 2)
            await ws.send(text)
            assert await ws.recv() == text
            data = bytes((i * 31) & 0xFF for i in range(size))
            await ws.send(data)
            assert await ws.recv() == data
            assert ws.transport.get_extra_info("ssl_object").selected_alpn_protocol() in (None, "http/1.1")
        assert ws.close_code == 1000

    run(main())


def test_alpn_is_http11_and_versions_are_12_and_13(tls_gate, pki):
    server = tls_gate("--route", "/echo=echo")
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        context = client_context(pki)
        context.minimum_version = context.maximum_version = version
        context.set_alpn_protocols(["h2", "http/1.1"])
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                assert tls.selected_alpn_protocol() == "http/1.1"
                assert tls.version() == {"TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}[version.name]
    old = client_context(pki)
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as raw:
        with pytest.raises(ssl.SSLError):
            old.wrap_socket(raw, server_hostname="localhost")


def test_leaf_without_its_intermediate_does_not_verify(tls_gate, pki):
    server = tls_gate("--route", "/echo=echo", cert=pki / "server.pem")
    with pytest.raises(ssl.SSLCertVerificationError):
        peer_certificate_subject(server.port, client_context(pki))


def test_program_sees_https_on(tls_gate, pki):
    server = tls_gate("--route", f"/env={ROOT / 'handlers' / 'env'}")

    async def main():
        async with tls_client(server.url("/env"), client_context(pki)) as ws:
            lines = [await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in range(8)]
            while True:
                try:
                    lines.append(await asyncio.wait_for(ws.recv(), 0.5))
                except (asyncio.TimeoutError, Exception):
                    break
        return dict(line.split("=", 1) for line in lines if "=" in line)

    env = run(main())
    assert env["HTTPS"] == "on"
    assert env["SSL_CLIENT_VERIFY"] == "NONE"
    assert "SSL_CLIENT_S_DN" not in env
    assert env["SERVER_PORT"] == str(server.port)


def test_shared_route_over_tls(tls_gate, pki):
    server = tls_gate("--route", f"/s/*=shared:{MIRROR}")

    async def main():
        async with tls_client(server.url("/s/a"), client_context(pki)) as a, \
                tls_client(server.url("/s/b"), client_context(pki)) as b:
            opened_a = await asyncio.wait_for(a.recv(), TIMEOUT)
            opened_b = await asyncio.wait_for(b.recv(), TIMEOUT)
            a_id, b_id = opened_a.split()[1], opened_b.split()[1]
            await a.send("hello over tls")
            assert await asyncio.wait_for(a.recv(), TIMEOUT) == "hello over tls"
            await a.send(f"!send {b_id} from {a_id}")
            assert await asyncio.wait_for(b.recv(), TIMEOUT) == f"from {a_id}"

    run(main())


def test_sighup_reloads_the_certificate_without_dropping_sessions(tls_gate, pki, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    shutil.copy(pki / "chain.pem", cert)
    shutil.copy(pki / "server.key", key)
    server = tls_gate("--route", "/echo=echo", cert=cert, key=key)
    context = client_context(pki)
    assert peer_certificate_subject(server.port, context)["organizationName"] == "first"

    async def main():
        async with tls_client(server.url("/echo"), context) as old:
            await old.send("before")
            assert await old.recv() == "before"
            shutil.copy(pki / "chain2.pem", cert)
            shutil.copy(pki / "server2.key", key)
            server.process.send_signal(signal.SIGHUP)
            await asyncio.to_thread(wait_for_log, server, r"event=tls\.reloaded")
            subject = await asyncio.to_thread(peer_certificate_subject, server.port, context)
            assert subject["organizationName"] == "second"
            await old.send("after")  # the session from before the reload keeps working
            assert await old.recv() == "after"
            # A reload that fails keeps what was loaded.
            cert.write_text("not a certificate\n")
            server.process.send_signal(signal.SIGHUP)
            await asyncio.to_thread(wait_for_log, server, r"event=tls\.reload_failed .*cannot load certificate")
            subject = await asyncio.to_thread(peer_certificate_subject, server.port, context)
            assert subject["organizationName"] == "second"
            await old.send("still")
            assert await old.recv() == "still"

    run(main())


def test_mutual_tls_accepts_a_signed_client_and_tells_the_program(tls_gate, pki):
    server = tls_gate("--route", f"/env={ROOT / 'handlers' / 'env'}", "--sslca", str(pki / "clientca.pem"))

    async def main():
        async with tls_client(server.url("/env"), client_context(pki, cert="alice")) as ws:
            lines = []
            while True:
                try:
                    lines.append(await asyncio.wait_for(ws.recv(), 1))
                except (asyncio.TimeoutError, Exception):
                    break
        return dict(line.split("=", 1) for line in lines if "=" in line)

    env = run(main())
    assert env["SSL_CLIENT_VERIFY"] == "SUCCESS"
    assert env["SSL_CLIENT_S_DN"] == "O=Example,CN=alice"
    assert env["HTTPS"] == "on"


@pytest.mark.parametrize("cert", [None, "mallory"])
def test_mutual_tls_refuses_clients_without_a_signed_certificate(tls_gate, pki, cert):
    server = tls_gate("--route", "/echo=echo", "--sslca", str(pki / "clientca.pem"))

    async def main():
        async with tls_client(server.url("/echo"), client_context(pki, cert=cert)) as ws:
            await ws.send("let me in")
            await ws.recv()

    # TLS 1.3 finishes the client's side of the handshake before the server checks its
    # certificate, so the refusal may surface at the first read rather than at connect.
    with pytest.raises(Exception):
        run(main())
    wait_for_log(server, r"event=tls\.handshake_failed .*reason=")


def test_plain_text_client_on_the_tls_port_is_dropped_and_others_go_on(tls_gate, pki):
    server = tls_gate("--route", "/echo=echo")

    async def main():
        async with tls_client(server.url("/echo"), client_context(pki)) as ws:
            for request in (b"GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n", b"\x00garbage\xff" * 100):
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                writer.write(request)
                assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""  # closed, nothing said in clear
                writer.close()
            await ws.send("unaffected")
            assert await ws.recv() == "unaffected"

    run(main())
    wait_for_log(server, r"event=tls\.handshake_failed .*reason=\"?http request")


def test_client_stalling_mid_handshake_is_dropped_after_the_handshake_timeout(tls_gate, pki):
    server = tls_gate("--route", "/echo=echo", "--handshake-timeout", "1s")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # the start of a ClientHello
        started = time.monotonic()
        assert raw.recv(100) == b""
        elapsed = time.monotonic() - started
    assert 0.8 <= elapsed < 3, elapsed
    wait_for_log(server, r"event=handshake\.timeout")


def test_large_messages_into_a_slow_tls_reader_keep_memory_bounded(tls_gate, pki):
    # The client sends 64 KiB messages to echo and never reads: the echoes back up in the server's
    # send queue (1 MiB bound), then the server stops reading, then TCP stops the client.
    server = tls_gate("--route", "/echo=echo", "--max-queued-bytes", "1MiB")
    context = client_context(pki)
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    tls = context.wrap_socket(raw, server_hostname="localhost")
    tls.sendall(b"GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    response = b""
    while b"\r\n\r\n" not in response:
        response += tls.recv(4096)
    assert response.startswith(b"HTTP/1.1 101")
    before = rss_kib(server.process.pid)
    payload = os.urandom(65536)
    frame = bytes([0x82, 0xFF]) + struct.pack("!Q", len(payload)) + b"\x00\x00\x00\x00" + payload
    tls.settimeout(2)
    sent = 0
    try:
        while sent < 1024 * len(frame):  # 64 MiB, far beyond every buffer on the way
            tls.sendall(frame)
            sent += len(frame)
    except (socket.timeout, TimeoutError):
        pass
    grown = rss_kib(server.process.pid) - before
    assert sent < 1024 * len(frame), "the server kept reading from a client that does not read"
    print(f"sent {sent >> 10} KiB, server grew by {grown} KiB")
    assert grown < 16 * 1024, f"server grew by {grown} KiB"
    tls.close()


@pytest.mark.parametrize("problem", ["missing", "mismatch", "garbage"])
def test_bad_certificate_files_stop_wsgate_at_start(pki, tmp_path, problem):
    cert, key = pki / "chain.pem", pki / "server.key"
    if problem == "missing":
        cert = tmp_path / "nowhere.pem"
    elif problem == "mismatch":
        key = pki / "server2.key"
    else:
        cert = tmp_path / "garbage.pem"
        cert.write_text("hello\n")
    result = subprocess.run([str(BINARY), "--ssl", "--sslcert", str(cert), "--sslkey", str(key), "--port", "0",
                             "--route", "/e=echo"], capture_output=True, timeout=TIMEOUT)
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wsgate: "), lines
    expected = {"missing": "cannot read certificate", "mismatch": "does not match", "garbage": "cannot load certificate"}
    assert expected[problem] in lines[0]


def wsgate_client(*args, input=None, timeout=20):
    return subprocess.run([str(BINARY), *args], input=input, capture_output=True, timeout=timeout)


def test_own_client_send_verifies_the_server(tls_gate, pki):
    server = tls_gate("--route", "/echo=echo")
    url = server.url("/echo")
    result = wsgate_client("send", "--cacert", str(pki / "root.pem"), url, "hello")
    assert (result.returncode, result.stdout) == (0, b"hello\n"), result.stderr
    # The system's CA store does not know the test root.
    result = wsgate_client("send", url, "hello")
    assert result.returncode == 1 and b"certificate verify failed" in result.stderr, result.stderr
    result = wsgate_client("send", "-k", url, "insecure")
    assert (result.returncode, result.stdout) == (0, b"insecure\n"), result.stderr
    # The name is checked: an IP address in the certificate works, a certificate for another name does not.
    result = wsgate_client("send", "--cacert", str(pki / "root.pem"), url.replace("localhost", "127.0.0.1"), "ip")
    assert (result.returncode, result.stdout) == (0, b"ip\n"), result.stderr
    other = tls_gate("--route", "/echo=echo", cert=pki / "elsewhere.pem", key=pki / "elsewhere.key")
    result = wsgate_client("send", "--cacert", str(pki / "root.pem"), other.url("/echo"), "x")
    assert result.returncode == 1 and b"certificate verify failed: hostname mismatch" in result.stderr, result.stderr


def test_own_client_echoes_a_1mib_line_and_benches(tls_gate, pki):
    server = tls_gate("--route", "/echo=echo")
    line = ("é" * (1 << 19)).encode() + b"\n"
    # --linger: the 1 MiB echo must come back within the wait after input ends, seconds on a loaded machine.
    result = wsgate_client("client", "--cacert", str(pki / "root.pem"), "--linger", "5s", server.url("/echo"),
                           input=line, timeout=40)
    assert result.returncode == 0, result.stderr
    assert result.stdout == line
    result = wsgate_client("bench", "--cacert", str(pki / "root.pem"), "-c", "4", "-p", "8", "-n", "2000",
                           "-s", "65536", server.url("/echo"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert b"errors: 0" in result.stdout


def test_own_client_presents_a_certificate_for_mutual_tls(tls_gate, pki):
    server = tls_gate("--route", f"/env={ROOT / 'handlers' / 'env'}", "--sslca", str(pki / "clientca.pem"))
    url = server.url("/env")
    result = wsgate_client("client", "--cacert", str(pki / "root.pem"), "--cert", str(pki / "alice.pem"),
                           "--key", str(pki / "alice.key"), url, input=b"")
    assert result.returncode == 0, result.stderr
    assert b"SSL_CLIENT_S_DN=O=Example,CN=alice\n" in result.stdout
    assert b"SSL_CLIENT_VERIFY=SUCCESS\n" in result.stdout
    result = wsgate_client("client", "--cacert", str(pki / "root.pem"), url, input=b"")
    assert result.returncode != 0



def test_keepalive_over_tls_closes_a_silent_client_and_spares_one_that_answers(tls_gate, pki):
    server = tls_gate("--route", "/echo=echo", "--ping-interval", "200ms", "--ping-timeout", "1s")

    async def main():
        # websockets answers pings by itself; with a zero-size read buffer it never reads again.
        async with tls_client(server.url("/echo"), client_context(pki)) as alive:
            silent_raw = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
            silent = client_context(pki).wrap_socket(silent_raw, server_hostname="localhost")
            silent.sendall(b"GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            await asyncio.sleep(2.5)  # several ping intervals: the answering client is pinged and answers
            await alive.send("still open")
            assert await asyncio.wait_for(alive.recv(), TIMEOUT) == "still open"
            # The silent client got pings it never answered, then a 1011 close frame, then the end.
            received = b""
            silent.settimeout(TIMEOUT)
            while True:
                chunk = silent.recv(65536)
                if not chunk:
                    break
                received += chunk
            silent.close()
            head, _, frames = received.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 101")
            assert b"\x88" in frames and struct.pack("!H", 1011) in frames

    run(main(), timeout=30)
    wait_for_log(server, r"event=session\.keepalive_timeout")


def test_graceful_shutdown_over_tls_closes_with_1001_then_close_notify(tls_gate, pki):
    server = tls_gate("--route", "/echo=echo", "--route", f"/s=shared:{MIRROR}")

    # A raw TLS client that will see whether the stream ends with close_notify: with
    # suppress_ragged_eofs off, a TCP end without it raises SSLEOFError instead of reading b"".
    raw = client_context(pki).wrap_socket(socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT),
                                          server_hostname="localhost", suppress_ragged_eofs=False)
    raw.sendall(b"GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += raw.recv(4096)
    assert head.startswith(b"HTTP/1.1 101")

    async def main():
        async with tls_client(server.url("/echo"), client_context(pki)) as echo, \
                tls_client(server.url("/s"), client_context(pki)) as shared:
            await asyncio.wait_for(shared.recv(), TIMEOUT)
            await echo.send("before")
            assert await asyncio.wait_for(echo.recv(), TIMEOUT) == "before"
            server.process.send_signal(signal.SIGTERM)
            for ws in (echo, shared):
                await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
                assert ws.close_code == 1001

    run(main())
    # The raw client: the 1001 close frame, then (once it answers) close_notify, then the end.
    frames = head.partition(b"\r\n\r\n")[2]
    while b"\x88" not in frames:
        frames += raw.recv(4096)
    assert frames[frames.index(b"\x88") + 2:][:2] == struct.pack("!H", 1001)
    raw.sendall(b"\x88\x82\x00\x00\x00\x00" + struct.pack("!H", 1001))  # our masked close reply
    assert raw.recv(4096) == b""  # close_notify: a clean end (a bare TCP end raises SSLEOFError here)
    raw.close()
    assert server.wait(timeout=15) == 0
