"""The web side end to end: --staticdir, --cgidir, keep-alive and the access log, against the built
wsgate binary with Python's own HTTP client (`http.client`) and raw sockets for what a client
library would tidy up (traversal attempts, pipelining, an upgrade after plain requests).

Every file and script is made in the test's temporary directory; every wait has a bound.
"""

import asyncio
import base64
import hashlib
import http.client
import os
import re
import socket
import ssl
import stat
import time

import pytest
from test_interop import TIMEOUT, client, run, wsgate  # noqa: F401 (wsgate: fixture)
from test_tls import client_context, pki, tls_gate  # noqa: F401 (pki, tls_gate: fixtures)

SECRET = "top secret outside the static directory"


@pytest.fixture
def site(tmp_path):
    """A static directory with one file of each type, a subdirectory, a dotfile and two symbolic
    links that lead out of it (to a file and to a directory holding the secret)."""
    root = tmp_path / "site"
    (root / "sub").mkdir(parents=True)
    (root / "index.html").write_text("<h1>home</h1>\n")
    (root / "sub" / "index.html").write_text("<h1>sub</h1>\n")
    (root / "ten.txt").write_text("0123456789")
    (root / ".env").write_text(SECRET)
    (root / "sub" / ".hidden").write_text(SECRET)
    (root / "empty.txt").write_text("")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (root / "leak.txt").symlink_to(outside / "secret.txt")
    (root / "leakdir").symlink_to(outside)
    (root / "inside-link.txt").symlink_to(root / "ten.txt")
    (tmp_path / "secret.txt").write_text(SECRET)
    return root


def connection(server):
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)


def get(server, path, method="GET", headers=None, body=None):
    conn = connection(server)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def raw_exchange(server, data, until_closed=True, timeout=TIMEOUT):
    """Sends `data` on a fresh socket and returns everything read until the server closes it."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            received += chunk
            if not until_closed:
                break
        return received


def read_response(sock, buffered=b""):
    """Reads one HTTP/1.1 response with a Content-Length body from `sock`; returns
    (status, headers, body, bytes left over)."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response head: {data!r}"
        data += chunk
    head, data = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(data) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed in a body"
        data += chunk
    return status, headers, data[:length], data[length:]


def status_of(response):
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", response)
    assert match, response[:200]
    return int(match.group(1))


# -- static files --------------------------------------------------------------------------------


@pytest.mark.parametrize("name,content_type", [
    ("a.html", "text/html; charset=utf-8"), ("a.css", "text/css; charset=utf-8"),
    ("a.js", "text/javascript; charset=utf-8"), ("a.mjs", "text/javascript; charset=utf-8"),
    ("a.json", "application/json"), ("a.svg", "image/svg+xml"), ("a.png", "image/png"), ("a.jpg", "image/jpeg"),
    ("a.gif", "image/gif"), ("a.webp", "image/webp"), ("a.ico", "image/x-icon"), ("a.wasm", "application/wasm"),
    ("a.txt", "text/plain; charset=utf-8"), ("a.woff2", "font/woff2"), ("a.js.map", "application/json"),
    ("a.bin", "application/octet-stream"),
])
def test_static_file_has_its_type_length_and_validators(wsgate, site, name, content_type):
    (site / name).write_bytes(b"x" * 37)
    server = wsgate("--staticdir", str(site))
    status, headers, body = get(server, "/" + name)
    assert (status, body) == (200, b"x" * 37)
    assert headers["Content-Type"] == content_type
    assert headers["Content-Length"] == "37"
    assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', headers["ETag"])
    assert headers["Last-Modified"].endswith(" GMT")


def test_head_has_the_headers_of_get_and_no_body(wsgate, site):
    server = wsgate("--staticdir", str(site))
    _, get_headers, _ = get(server, "/ten.txt")
    # HEAD responses have no body, so read the raw bytes: the next response must follow at once.
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"HEAD /ten.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /ten.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while data.count(b"0123456789") < 1:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 ") and b"Content-Length: 10" in head
    assert get_headers["ETag"].encode() in head
    assert rest.startswith(b"HTTP/1.1 200 "), "HEAD sent a body"


def test_directory_serves_its_index_and_redirects_without_slash(wsgate, site):
    server = wsgate("--staticdir", str(site))
    assert get(server, "/")[0::2] == (200, b"<h1>home</h1>\n")
    assert get(server, "/sub/")[0::2] == (200, b"<h1>sub</h1>\n")
    status, headers, _ = get(server, "/sub?x=1")
    assert status == 301 and headers["Location"] == "/sub/?x=1"
    (site / "noindex").mkdir()
    assert get(server, "/noindex/")[0] == 404  # no directory listing


def test_not_modified_both_ways(wsgate, site):
    server = wsgate("--staticdir", str(site))
    _, headers, _ = get(server, "/ten.txt")
    status, again, body = get(server, "/ten.txt", headers={"If-None-Match": headers["ETag"]})
    assert (status, body) == (304, b"") and again["ETag"] == headers["ETag"]
    assert get(server, "/ten.txt", headers={"If-Modified-Since": headers["Last-Modified"]})[0] == 304
    assert get(server, "/ten.txt", headers={"If-None-Match": '"other"'})[0] == 200
    assert get(server, "/ten.txt", headers={"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"})[0] == 200
    # A changed file has a new tag.
    os.utime(site / "ten.txt", (1_000_000_000, 1_000_000_000))
    assert get(server, "/ten.txt", headers={"If-None-Match": headers["ETag"]})[0] == 200


@pytest.mark.parametrize("field,status,body,content_range", [
    ("bytes=2-4", 206, b"234", "bytes 2-4/10"),
    ("bytes=7-", 206, b"789", "bytes 7-9/10"),
    ("bytes=-2", 206, b"89", "bytes 8-9/10"),
    ("bytes=5-99", 206, b"56789", "bytes 5-9/10"),
    ("bytes=10-", 416, None, "bytes */10"),
    ("bytes=0-1,4-5", 200, b"0123456789", None),  # several ranges: the whole file
    ("bytes=10-,20-", 416, None, "bytes */10"),
    ("lines=1-2", 200, b"0123456789", None),
])
def test_single_range(wsgate, site, field, status, body, content_range):
    server = wsgate("--staticdir", str(site))
    got_status, headers, got_body = get(server, "/ten.txt", headers={"Range": field})
    assert got_status == status
    if body is not None:
        assert got_body == body
    assert headers.get("Content-Range") == content_range


def test_if_range_with_a_stale_tag_gets_the_whole_file(wsgate, site):
    server = wsgate("--staticdir", str(site))
    _, headers, _ = get(server, "/ten.txt")
    assert get(server, "/ten.txt", headers={"Range": "bytes=0-0", "If-Range": headers["ETag"]})[0::2] == (206, b"0")
    assert get(server, "/ten.txt", headers={"Range": "bytes=0-0", "If-Range": '"stale"'})[0] == 200


def test_empty_file_and_methods(wsgate, site):
    server = wsgate("--staticdir", str(site))
    assert get(server, "/empty.txt")[0::2] == (200, b"")
    status, headers, _ = get(server, "/ten.txt", method="POST", body=b"x")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert get(server, "/missing.txt")[0] == 404
    assert get(server, "/inside-link.txt")[0::2] == (200, b"0123456789")  # a link that stays inside


@pytest.mark.parametrize("target", [
    "/../secret.txt", "/../../etc/passwd", "/%2e%2e/secret.txt", "/%2E%2E/%2e%2e/etc/passwd",
    "/sub/../../secret.txt", "/sub/%2e%2e/%2e%2e/secret.txt", "/%2e%2e%2fsecret.txt", "/sub%2f..%2f..%2fsecret.txt",
    "/..%2f..%2fsecret.txt", "/ten.txt%00.html", "/%00", "/.env", "/sub/.hidden", "/sub/%2ehidden", "/leak.txt",
    "/leakdir/secret.txt", "/leakdir/", "/./ten.txt/..", "//..//secret.txt", "/%", "/ten.txt%zz",
])
def test_nothing_outside_the_directory_is_served(wsgate, site, target):
    server = wsgate("--staticdir", str(site))
    response = raw_exchange(server, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert status_of(response) in (400, 404), response
    assert SECRET.encode() not in response and b"root:" not in response


def test_route_path_still_gets_426_and_files_beside_routes_are_served(wsgate, site):
    (site / "echo").write_text("a file named like the route")
    server = wsgate("--staticdir", str(site), "--route", "/echo=echo", "--route", "/ws=echo")
    assert get(server, "/ws")[0] == 426  # a route's path with no file: the route's refusal
    assert get(server, "/echo")[0::2] == (200, b"a file named like the route")  # non-upgrade requests get files

    async def main():
        async with client(f"ws://127.0.0.1:{server.port}/echo") as ws:  # the upgrade still goes to the route
            await ws.send("hi")
            assert await ws.recv() == "hi"

    run(main())


# -- keep-alive ----------------------------------------------------------------------------------


def test_several_requests_on_one_connection_then_an_upgrade(wsgate, site):
    server = wsgate("--staticdir", str(site), "--route", "/echo=echo")
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        left = b""
        for path, body in [("/ten.txt", b"0123456789"), ("/", b"<h1>home</h1>\n"), ("/nope", None)]:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            status, headers, got, left = read_response(sock, left)
            assert status == (200 if body else 404) and "connection" not in headers
            if body:
                assert got == body
        # Pipelined: three at once, answered in order.
        sock.sendall(b"".join(f"GET /ten.txt HTTP/1.1\r\nHost: x\r\nRange: bytes={i}-{i}\r\n\r\n".encode() for i in range(3)))
        for i in range(3):
            status, _, got, left = read_response(sock, left)
            assert (status, got) == (206, str(i).encode())
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        status, headers, _, left = read_response(sock, left)
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        assert status == 101 and headers["sec-websocket-accept"] == accept
        mask = os.urandom(4)
        payload = b"after plain requests"
        sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        frame = left
        while len(frame) < 2 + len(payload):
            frame += sock.recv(65536)
        assert frame[:2 + len(payload)] == bytes([0x81, len(payload)]) + payload


def test_http_client_reuses_its_connection(wsgate, site):
    server = wsgate("--staticdir", str(site))
    conn = connection(server)
    conn.request("GET", "/ten.txt")
    first = conn.getresponse()
    assert first.read() == b"0123456789"
    sock = conn.sock
    for _ in range(5):
        conn.request("GET", "/sub/")
        assert conn.getresponse().read() == b"<h1>sub</h1>\n"
    assert conn.sock is sock, "http.client had to reconnect"
    conn.close()


@pytest.mark.parametrize("request_text,closes", [
    ("GET /ten.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", True),
    ("GET /ten.txt HTTP/1.0\r\n\r\n", True),
    ("GET /ten.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", False),
])
def test_connection_close_and_http10(wsgate, site, request_text, closes):
    server = wsgate("--staticdir", str(site), "--http-idle-timeout", "30s")
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(request_text.encode())
        status, headers, body, left = read_response(sock)
        assert (status, body, left) == (200, b"0123456789", b"")
        assert headers.get("connection") == ("close" if closes else "keep-alive")
        sock.settimeout(1.5 if not closes else TIMEOUT)
        try:
            tail = sock.recv(1)
        except socket.timeout:
            tail = None
        assert (tail == b"") == closes


def test_idle_connection_is_closed_after_the_idle_timeout(wsgate, site):
    server = wsgate("--staticdir", str(site), "--http-idle-timeout", "1s")
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(b"GET /ten.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        read_response(sock)
        started = time.monotonic()
        assert sock.recv(1) == b""
        assert time.monotonic() - started < 12


def test_half_closed_client_still_gets_its_response(wsgate, site):
    server = wsgate("--staticdir", str(site))
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"GET /ten.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"0123456789")


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+) kB", status.read()).group(1))


def test_large_file_to_a_slow_reader_keeps_memory_bounded(wsgate, site):
    size = 100 * 1024 * 1024
    with open(site / "big.bin", "wb") as big:
        big.truncate(size)  # sparse: no disk, all zeros
    server = wsgate("--staticdir", str(site))
    get(server, "/ten.txt")  # warm up
    before = vm_rss_kib(server.process.pid)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.settimeout(TIMEOUT)
    sock.connect(("127.0.0.1", server.port))
    with sock:
        sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        received = 0
        peak = before
        # A slow reader: 64 KiB every 20 ms for a while, so the socket stays full...
        for _ in range(50):
            received += len(sock.recv(65536))
            time.sleep(0.02)
            peak = max(peak, vm_rss_kib(server.process.pid))
        # ...then the rest as fast as it comes.
        checks = 0
        while received < size + 200:
            chunk = sock.recv(1 << 20)
            assert chunk, f"closed after {received} bytes"
            received += len(chunk)
            checks += 1
            if checks % 64 == 0:
                peak = max(peak, vm_rss_kib(server.process.pid))
            if received >= size:
                # the head is about 250 bytes; stop once the body must be complete
                break
    assert received >= size
    print(f"100 MB to a slow reader: VmRSS {before} KiB before, peak {peak} KiB")
    assert peak - before < 16 * 1024, f"RSS grew from {before} KiB to {peak} KiB serving a 100 MB file"


def test_static_file_over_tls_is_read_in_chunks(tls_gate, pki, site):  # noqa: F811 (pki: fixture)
    data = os.urandom(3 * 1024 * 1024 + 17)
    (site / "random.bin").write_bytes(data)
    server = tls_gate("--staticdir", str(site))
    conn = http.client.HTTPSConnection("localhost", server.port, timeout=TIMEOUT, context=client_context(pki))
    conn.request("GET", "/random.bin")
    response = conn.getresponse()
    assert response.status == 200 and response.read() == data
    conn.request("GET", "/random.bin", headers={"Range": "bytes=1000-1999"})
    response = conn.getresponse()
    assert response.status == 206 and response.read() == data[1000:2000]
    conn.close()


# -- CGI -----------------------------------------------------------------------------------------


def script(directory, name, body):
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def cgi(tmp_path):
    d = tmp_path / "cgi"
    (d / "sub").mkdir(parents=True)
    script(d, "env", 'printf "Content-Type: text/plain\\r\\nX-Script: env\\r\\n\\r\\n"\n'
           'for v in REQUEST_METHOD QUERY_STRING SCRIPT_NAME PATH_INFO CONTENT_LENGTH CONTENT_TYPE '
           'GATEWAY_INTERFACE HTTP_X_TEST; do eval "echo $v=\\$$v"; done\n')
    script(d, "echo-body", 'printf "Content-Type: application/octet-stream\\n\\n"\ncat\n')
    script(d, "missing", 'printf "Status: 404 Not Here\\r\\nContent-Type: text/plain\\r\\n\\r\\nnothing\\n"\n')
    script(d, "bad", 'printf "this is not a header block\\n\\nbody\\n"\n')
    script(d, "silent", "exec sleep 60\n")
    script(d, "redirect", 'printf "Location: /env?from=redirect\\r\\n\\r\\n"\n')
    script(d, "big", 'printf "Content-Type: application/octet-stream\\r\\n\\r\\n"\nhead -c 5000000 /dev/zero\n')
    script(d / "sub", "deep", 'printf "Content-Type: text/plain\\r\\nContent-Length: 5\\r\\n\\r\\ndeep\\n"\n')
    (d / "notexec.txt").write_text("not a script")
    return d


def env_lines(body):
    return dict(line.split("=", 1) for line in body.decode().splitlines())


def test_cgi_get_with_a_query_and_path_info(wsgate, cgi):
    server = wsgate("--cgidir", str(cgi))
    status, headers, body = get(server, "/env/extra/path?a=1&b=two", headers={"X-Test": "yes"})
    assert status == 200 and headers["X-Script"] == "env" and headers["Transfer-Encoding"] == "chunked"
    env = env_lines(body)
    assert env["REQUEST_METHOD"] == "GET" and env["QUERY_STRING"] == "a=1&b=two"
    assert env["SCRIPT_NAME"] == "/env" and env["PATH_INFO"] == "/extra/path"
    assert env["GATEWAY_INTERFACE"] == "CGI/1.1" and env["HTTP_X_TEST"] == "yes" and env["CONTENT_LENGTH"] == ""


def test_cgi_post_sends_the_body_to_stdin(wsgate, cgi):
    server = wsgate("--cgidir", str(cgi))
    payload = os.urandom(300_000)  # more than a pipe holds
    status, _, body = get(server, "/echo-body", method="POST", body=payload,
                          headers={"Content-Type": "application/x-test"})
    assert status == 200 and body == payload
    status, _, body = get(server, "/env", method="POST", body=b"a=1", headers={"Content-Type": "text/x-form"})
    env = env_lines(body)
    assert env["REQUEST_METHOD"] == "POST" and env["CONTENT_LENGTH"] == "3" and env["CONTENT_TYPE"] == "text/x-form"


def test_cgi_status_redirect_length_and_http10(wsgate, cgi):
    server = wsgate("--cgidir", str(cgi))
    assert get(server, "/missing")[0::2] == (404, b"nothing\n")
    status, headers, _ = get(server, "/redirect")
    assert status == 302 and headers["Location"] == "/env?from=redirect"
    status, headers, body = get(server, "/sub/deep")
    assert (status, body, headers["Content-Length"]) == (200, b"deep\n", "5")
    response = raw_exchange(server, b"GET /env HTTP/1.0\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 200 ") and b"Transfer-Encoding" not in response
    assert b"REQUEST_METHOD=GET" in response  # the end of the connection ends the body


def test_cgi_bad_header_block_is_502(wsgate, cgi):
    server = wsgate("--cgidir", str(cgi))
    status, _, body = get(server, "/bad")
    assert status == 502 and b"bad CGI header block" in body


def test_cgi_silent_script_is_504_and_stopped(wsgate, cgi):
    server = wsgate("--cgidir", str(cgi), "--cgi-timeout", "1s")
    started = time.monotonic()
    status, _, body = get(server, "/silent")
    assert status == 504 and time.monotonic() - started < 10
    # The script's process group is stopped: no sleep left behind under wsgate.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = open(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read().split()
        if not children:
            break
        time.sleep(0.1)
    assert not children


def test_cgi_oversized_and_chunked_bodies_are_refused(wsgate, cgi):
    server = wsgate("--cgidir", str(cgi), "--max-request-body", "1KiB")
    assert get(server, "/echo-body", method="POST", body=b"x" * 1024)[0] == 200
    response = raw_exchange(server, b"POST /echo-body HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n")
    assert status_of(response) == 413 and b"Connection: close" in response
    response = raw_exchange(server, b"POST /echo-body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert status_of(response) == 411


def test_cgi_large_output_streams_to_the_client(wsgate, cgi):
    server = wsgate("--cgidir", str(cgi), "--max-queued-bytes", "64KiB")
    status, _, body = get(server, "/big")
    assert status == 200 and len(body) == 5_000_000 and body.count(0) == 5_000_000


def test_cgi_before_static_and_methods(wsgate, cgi):
    server = wsgate("--cgidir", str(cgi), "--staticdir", str(cgi))
    assert get(server, "/sub/deep")[2] == b"deep\n"  # run, not served as a file
    assert get(server, "/notexec.txt")[0::2] == (200, b"not a script")  # not executable: a file
    status, headers, _ = get(server, "/env", method="DELETE")
    assert status == 405 and headers["Allow"] == "GET, HEAD, POST"
    status, headers, body = get(server, "/env", method="HEAD")
    assert status == 200 and body == b"" and headers["X-Script"] == "env"


def test_cgi_maxforks_is_503(wsgate, cgi):
    server = wsgate("--cgidir", str(cgi), "--maxforks", "1", "--cgi-timeout", "5s")
    slow = connection(server)
    slow.request("GET", "/silent")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = get(server, "/env")[0]
        if status == 503:
            break
        time.sleep(0.05)
    assert status == 503
    slow.close()


# -- the access log ------------------------------------------------------------------------------


def test_access_log_has_one_line_per_plain_request(wsgate, site, cgi):
    server = wsgate("--staticdir", str(site), "--cgidir", str(cgi), "--route", "/echo=echo", "--loglevel", "access")
    get(server, "/ten.txt")
    get(server, "/env?q=1")
    get(server, "/nope")
    get(server, "/echo")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sum("event=http.request" in line for line in server.lines) < 4:
        time.sleep(0.05)
    lines = [line for line in server.lines if "event=http.request" in line]
    assert len(lines) == 4, server.lines
    fields = [dict(re.findall(r'(\w+)=("[^"]*"|\S+)', line)) for line in lines]
    assert [(f["method"], f["path"], f["status"], f["responder"]) for f in fields] == [
        ("GET", "/ten.txt", "200", "static"), ("GET", "/env", "200", "cgi"), ("GET", "/nope", "404", "static"),
        ("GET", "/echo", "426", "-")]
    assert fields[0]["bytes"] == "10" and fields[1]["query"] == '"q=1"'
    assert all(f["duration_ms"].isdigit() for f in fields)
