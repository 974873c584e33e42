"""A real redis-server for the tests that span wsgate instances (test_redis.py, test_nginx.py):
started on a free port in a temporary directory with persistence off, stopped after."""

import pathlib
import shutil
import socket
import subprocess
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_interop import Wsgate  # noqa: E402


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """redis-server on 127.0.0.1; `stop` and `start` again keep its port (an outage and a recovery)."""

    def __init__(self, directory, *options):
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed (.ci/run installs Debian's redis-server)")
        self.directory = directory
        self.options = options
        self.port = free_port()
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), *self.options],
            stdout=open(self.directory / "redis.log", "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    reply = sock.recv(100)
                    if reply.startswith((b"+PONG", b"-NOAUTH")):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        pytest.fail("redis-server did not start: " + (self.directory / "redis.log").read_text()[-2000:])

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def url(self, login=""):
        return f"redis://{login}127.0.0.1:{self.port}"

    def command(self, *args, password=None):
        """One command through redis-cli: its output lines."""
        auth = ["-a", password, "--no-auth-warning"] if password else []
        done = subprocess.run(["redis-cli", "-p", str(self.port), *auth, *args], capture_output=True, text=True,
                              timeout=10)
        return done.stdout.split("\n")

    def wait_subscribers(self, channel, count, password=None, timeout=20):
        """Until `count` connections subscribe to `channel`: then a publication reaches them all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.command("PUBSUB", "NUMSUB", channel, password=password)
            if len(lines) > 1 and lines[1].strip() == str(count):
                return
            time.sleep(0.05)
        raise AssertionError(f"{channel} never had {count} subscribers: {lines}")


def instance(redis_url, *flags):
    """A wsgate on the Redis at `redis_url` (its Redis lines are at level info and error)."""
    return Wsgate("--redis", redis_url, *flags)
