"""End to end: systemd socket activation and sd_notify (issue 12). Sockets are passed by a tiny
Python launcher (Tests/Interop/programs/activate, always run) and by systemd's own
`systemd-socket-activate` when it is installed; readiness is read from a datagram socket standing in
for systemd's NOTIFY_SOCKET."""

import os
import shutil
import signal
import socket
import time

import pytest
from websockets.asyncio.client import unix_connect

from test_interop import ROOT, TIMEOUT, client, run, wsgate  # noqa: F401 (the fixture)

ACTIVATE = str(ROOT / "Tests" / "Interop" / "programs" / "activate")
ENV = str(ROOT / "handlers" / "env")
PASSENV = "PATH,LISTEN_FDS,LISTEN_PID,LISTEN_FDNAMES,NOTIFY_SOCKET"


async def environment_of(ws):
    variables = {}
    async for line in ws:
        name, _, value = line.partition("=")
        variables[name] = value
    return variables


class Notifications:
    """A datagram socket where wsgate's sd_notify messages arrive: a path, or an abstract name."""

    def __init__(self, tmp_path, abstract):
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"wsgate-test-{os.getpid()}-{time.monotonic_ns()}"
            self.socket.bind("\0" + name)
            self.target = "@" + name
        else:
            self.target = str(tmp_path / "notify")
            self.socket.bind(self.target)
        self.socket.settimeout(10)

    def next(self):
        return self.socket.recv(4096).decode()


@pytest.mark.parametrize("abstract", [False, True])
def test_passed_sockets_are_served_and_readiness_is_reported(wsgate, tmp_path, abstract):
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    port = tcp.getsockname()[1]
    path = tmp_path / "passed.sock"
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(str(path))
    unix.listen()
    notifications = Notifications(tmp_path, abstract)
    environment = dict(os.environ, NOTIFY_SOCKET=notifications.target)
    server = wsgate("--passenv", PASSENV, "--route", f"/env={ENV}", "--route", "/echo=echo",
                    # Ignored with passed sockets: nothing is bound.
                    "--port", "1", tcp=False, env=environment, pass_fds=(tcp.fileno(), unix.fileno()),
                    launcher=(ACTIVATE, f"{tcp.fileno()}=web", f"{unix.fileno()}=local", "--"))
    tcp.close()
    unix.close()
    assert server.port == port
    assert notifications.next() == "READY=1"
    assert server.logged(f"event=server.listen unix={path} passed=local")
    assert server.logged(f"address=127.0.0.1:{port} url=ws://127.0.0.1:{port}/ passed=web")

    async def main():
        async with client(f"ws://127.0.0.1:{port}/env") as ws:
            variables = await environment_of(ws)
        # The variables are gone before any program starts, even those --passenv names.
        for name in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET"]:
            assert name not in variables
        async with unix_connect(str(path), "ws://localhost/echo", open_timeout=TIMEOUT) as ws:
            await ws.send("passed")
            assert await ws.recv() == "passed"
    run(main())

    server.process.send_signal(signal.SIGHUP)
    assert notifications.next().startswith("RELOADING=1\nMONOTONIC_USEC=")
    assert notifications.next() == "READY=1"
    server.process.terminate()
    assert notifications.next() == "STOPPING=1"
    assert server.wait(timeout=10) == 0
    # A passed Unix socket's file belongs to the service manager: it stays.
    assert path.exists()


def test_variables_for_another_process_are_ignored(wsgate):
    environment = dict(os.environ, LISTEN_FDS="1", LISTEN_PID="1")
    server = wsgate("--route", "/echo=echo", env=environment)

    async def main():
        async with client(server.url("/echo")) as ws:
            await ws.send("bound itself")
            assert await ws.recv() == "bound itself"
    run(main())


@pytest.mark.skipif(not shutil.which("systemd-socket-activate"),
                    reason="systemd-socket-activate is not installed (Debian package systemd)")
def test_systemd_socket_activate(wsgate, tmp_path):
    # systemd-socket-activate listens first and starts wsgate on the first connection, as systemd
    # does for a .socket unit without Accept=.
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    free = probe.getsockname()[1]
    probe.close()
    server = wsgate("--passenv", PASSENV, "--route", f"/env={ENV}", tcp=False,
                    launcher=("systemd-socket-activate", "-l", f"127.0.0.1:{free}", "--fdname=web"),
                    ready=r"Listening on 127\.0\.0\.1:(\d+)")

    async def main():
        async with client(f"ws://127.0.0.1:{server.port}/env", open_timeout=15) as ws:
            variables = await environment_of(ws)
        assert "LISTEN_FDS" not in variables and "LISTEN_FDNAMES" not in variables
        assert variables["REMOTE_ADDR"] == "127.0.0.1"
    run(main(), timeout=30)
    assert server.logged("passed=web")
