"""End to end: --auth (issue 12) with the built wsgate and Python's `websockets` client.

htpasswd lines are made here at test time: sha512-crypt with `openssl passwd -6` (an implementation
independent of wsgate's libxcrypt), bcrypt with Debian's `htpasswd -B` when apache2-utils is
installed, else with libxcrypt's crypt_gensalt through ctypes, and yescrypt through ctypes.
"""

import base64
import ctypes
import shutil
import signal
import subprocess
import time

import pytest
from websockets.exceptions import InvalidStatus

from test_interop import ROOT, TIMEOUT, client, run, wsgate  # noqa: F401 (the fixture)

ENV = str(ROOT / "handlers" / "env")


def crypt(password, prefix, cost):
    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt.restype = ctypes.c_char_p
    setting = lib.crypt_gensalt(prefix.encode(), cost, None, 0)
    return lib.crypt(password.encode(), setting).decode()


def sha512_line(user, password):
    made = subprocess.run(["openssl", "passwd", "-6", password], check=True, capture_output=True, text=True)
    return f"{user}:{made.stdout.strip()}"


def bcrypt_line(user, password):
    if shutil.which("htpasswd"):
        made = subprocess.run(["htpasswd", "-nbB", user, password], check=True, capture_output=True, text=True)
        return made.stdout.strip()
    return f"{user}:{crypt(password, '$2b$', 5)}"


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def environment_of(ws):
    """The env handler's lines, as a dict, until it closes."""
    variables = {}
    try:
        async for line in ws:
            name, _, value = line.partition("=")
            variables[name] = value
    except Exception:
        pass
    return variables


def refused(url, headers=None, open_timeout=TIMEOUT):
    """The status and headers of a refused handshake."""
    async def main():
        with pytest.raises(InvalidStatus) as caught:
            await client(url, additional_headers=headers or {}, open_timeout=open_timeout)
        return caught.value.response
    return run(main(), timeout=open_timeout + 5)


def test_basic_auth_bcrypt_sha512_yescrypt_accepted_and_refused(wsgate, tmp_path):
    users = tmp_path / "users"
    users.write_text("# made at test time\n" + "\n".join([
        bcrypt_line("alice", "wonderland"),
        sha512_line("bob", "builder"),
        f"carol:{crypt('s3cret', '$y$', 0)}",
    ]) + "\n")
    marker = tmp_path / "started"
    program = tmp_path / "mark"
    program.write_text(f"#!/bin/sh\ntouch {marker}\nexec {ENV}\n")
    program.chmod(0o755)
    server = wsgate("--auth", f"basic:{users}", "--route", f"/env={program}")

    async def main():
        for user, password in [("alice", "wonderland"), ("bob", "builder"), ("carol", "s3cret")]:
            async with client(server.url("/env"), additional_headers=basic(user, password)) as ws:
                variables = await environment_of(ws)
            assert variables["REMOTE_USER"] == user
            assert variables["AUTH_TYPE"] == "Basic"
    run(main(), timeout=30)

    marker.unlink()
    for headers in [None, basic("alice", "wrong"), basic("mallory", "wonderland"), {"Authorization": "Bearer x"}]:
        response = refused(server.url("/env"), headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith('Basic realm="wsgate"')
    # A refused request never starts the route's program.
    assert not marker.exists()
    assert server.logged("event=handshake.unauthorized")
    assert all("status=401" in line for line in server.lines if "event=handshake.unauthorized" in line)


def test_bearer_token_in_header_or_query(wsgate, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("# one per line\nfirst-token\nsecond.token\n")
    server = wsgate("--auth", f"bearer:{tokens}", "--route", f"/env={ENV}", "--route", "/echo=echo")

    async def main():
        async with client(server.url("/env"), additional_headers={"Authorization": "Bearer first-token"}) as ws:
            variables = await environment_of(ws)
        assert variables["AUTH_TYPE"] == "Bearer"
        assert variables["REMOTE_USER"] == ""
        async with client(server.url("/echo?access_token=second.token")) as ws:
            await ws.send("hi")
            assert await ws.recv() == "hi"
    run(main())

    for url, headers in [(server.url("/echo"), None), (server.url("/echo?access_token=first"), None),
                         (server.url("/echo"), {"Authorization": "Bearer first-token-plus"})]:
        response = refused(url, headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")

    # SIGHUP re-reads the file: the new token works, the removed one no longer does.
    tokens.write_text("third\n")
    server.process.send_signal(signal.SIGHUP)
    assert server.logged("event=auth.reloaded")
    assert refused(server.url("/echo?access_token=first-token")).status_code == 401

    async def after():
        async with client(server.url("/echo?access_token=third")) as ws:
            await ws.send("again")
            assert await ws.recv() == "again"
    run(after())


def test_auth_command_sets_remote_user_or_refuses_with_403(wsgate, tmp_path):
    check = tmp_path / "check"
    check.write_text('#!/bin/sh\n[ "$HTTP_X_TICKET" = "let-me-in" ] || exit 3\necho "user-$QUERY_STRING"\n')
    check.chmod(0o755)
    server = wsgate("--auth", f"command:{check}", "--route", f"/env={ENV}")

    async def main():
        async with client(server.url("/env?x"), additional_headers={"X-Ticket": "let-me-in"}) as ws:
            variables = await environment_of(ws)
        assert variables["REMOTE_USER"] == "user-x"
        assert variables["AUTH_TYPE"] == "Command"
    run(main())
    assert refused(server.url("/env"), {"X-Ticket": "no"}).status_code == 403


def test_auth_command_that_hangs_is_killed_and_refused(wsgate, tmp_path):
    check = tmp_path / "slow"
    check.write_text("#!/bin/sh\nsleep 60\n")
    check.chmod(0o755)
    server = wsgate("--auth", f"command:{check}", "--route", "/echo=echo")
    started = time.monotonic()
    assert refused(server.url("/echo"), open_timeout=20).status_code == 403
    assert time.monotonic() - started < 12  # the 5 s timeout, with room for a loaded machine
    assert server.logged("event=auth.command_timeout")


@pytest.mark.parametrize("content, reason", [
    (None, "cannot read: ENOENT"),
    ("alice:$apr1$abc$def\n", ":1: user 'alice': not a hash crypt(3) accepts"),
    ("# nobody\n", ": no users"),
])
def test_bad_htpasswd_file_stops_start_with_status_2(tmp_path, content, reason):
    from test_interop import BINARY
    users = tmp_path / "users"
    if content is not None:
        users.write_text(content)
    done = subprocess.run([str(BINARY), "--port", "0", "--auth", f"basic:{users}", "--route", "/e=echo"],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 2
    assert reason in done.stderr and done.stderr.count("\n") == 1
