"""nginx in front: the README's nginx configuration, run as written (its ports and certificate
files replaced) by Debian's nginx (installed by .ci/run; skipped when missing), terminating TLS
with a certificate made by openssl here and balancing two wsgate instances on one Redis; and
--trust-proxy, directly and through nginx.
"""

import asyncio
import pathlib
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from redis_support import RedisServer, free_port, instance  # noqa: E402
from test_interop import ROOT, TIMEOUT, Wsgate, client, run  # noqa: E402

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if pathlib.Path("/usr/sbin/nginx").exists() else None)
# --loglevel access: the session lines, where the client's address shows.
ENV_ROUTE = ("--route", "/env=" + str(ROOT / "handlers" / "env"), "--loglevel", "access")


def documented_configuration():
    """The README's nginx block: the text a user copies."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### nginx in front", 1)[1]
    return re.search(r"```nginx\n(.*?)```", section, re.S).group(1)


async def environment(url, headers=None, **options):
    """The `env`-style program's lines at `url` as a dict, read until it closes."""
    async with client(url, additional_headers=headers or {}, **options) as ws:
        lines = []
        try:
            while True:
                lines.append(await asyncio.wait_for(ws.recv(), TIMEOUT))
        except Exception:
            pass
    return dict(line.split("=", 1) for line in lines if "=" in line)


def test_trusted_proxy_header_is_used_untrusted_ignored():
    trusting = Wsgate("--trust-proxy", "10.0.0.0/8,127.0.0.1", *ENV_ROUTE)
    distrusting = Wsgate("--trust-proxy", "10.0.0.0/8", *ENV_ROUTE)
    try:
        forwarded = {"X-Forwarded-For": "198.51.100.4, 203.0.113.7, 10.1.2.3"}
        env = run(environment(trusting.url("/env"), forwarded))
        assert env["REMOTE_ADDR"] == "203.0.113.7" and env["REMOTE_HOST"] == "203.0.113.7"
        assert env["REMOTE_PORT"] == ""
        assert trusting.logged("client=203.0.113.7"), "\n".join(trusting.lines)
        env = run(environment(trusting.url("/env"), {"X-Real-IP": "2001:db8::5"}))
        assert env["REMOTE_ADDR"] == "2001:db8::5"
        env = run(environment(distrusting.url("/env"), forwarded))
        assert env["REMOTE_ADDR"] == "127.0.0.1" and env["REMOTE_PORT"] != ""
        assert not any("client=" in line for line in distrusting.lines)
    finally:
        trusting.stop()
        distrusting.stop()


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs Debian's nginx-light)")
def test_documented_nginx_configuration_balances_a_room_over_two_instances(tmp_path):
    redis = RedisServer(tmp_path)
    flags = ("--trust-proxy", "127.0.0.1", "--route", "/chat/*=broadcast", *ENV_ROUTE)
    gates = [instance(redis.url(), *flags), instance(redis.url(), *flags)]
    nginx = None
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-keyout", "key.pem",
                        "-out", "cert.pem"], cwd=tmp_path, check=True, capture_output=True, timeout=60)
        port = free_port()
        site = (documented_configuration()
                .replace("127.0.0.1:8081", f"127.0.0.1:{gates[0].port}")
                .replace("127.0.0.1:8082", f"127.0.0.1:{gates[1].port}")
                .replace("listen 443 ssl", f"listen 127.0.0.1:{port} ssl")
                .replace("/etc/ssl/wsgate/fullchain.pem", str(tmp_path / "cert.pem"))
                .replace("/etc/ssl/wsgate/privkey.pem", str(tmp_path / "key.pem")))
        temp = "".join(f"{kind}_temp_path {tmp_path}/{kind};\n" for kind in
                       ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (tmp_path / "nginx.conf").write_text(
            f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nworker_processes 1;\n"
            f"events {{}}\nhttp {{\naccess_log {tmp_path}/access.log;\n{temp}{site}\n}}\n")
        nginx = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        context = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        url = f"wss://localhost:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or nginx.poll() is not None:
                    reason = nginx.stderr.read().decode() if nginx.poll() is not None else "it did not listen"
                    pytest.fail("nginx did not start: " + reason)
                time.sleep(0.05)

        async def main():
            # nginx's round robin puts the two clients on different instances.
            async with client(url + "/chat/x", ssl=context) as a, client(url + "/chat/x", ssl=context) as b:
                redis.wait_subscribers("wsgate:broadcast:/chat/x", 2)
                await a.send("through nginx")
                assert await asyncio.wait_for(b.recv(), TIMEOUT) == "through nginx"
                await b.send(b"\x01\x02")
                assert await asyncio.wait_for(a.recv(), TIMEOUT) == b"\x01\x02"
            return await environment(url + "/env", ssl=context)

        env = run(main(), timeout=60)
        for gate in gates:
            assert gate.logged("event=session.open", timeout=5), "an instance got no session:\n" + "\n".join(gate.lines)
        # nginx saw the client at 127.0.0.1 and said so; the instance believed it (client= logged).
        assert env["REMOTE_ADDR"] == "127.0.0.1" and env["REMOTE_PORT"] == ""
        assert any("client=127.0.0.1" in line for gate in gates for line in gate.lines)
        assert env["HTTP_X_REAL_IP"] == "127.0.0.1" and env["HTTP_X_FORWARDED_PROTO"] == "https"
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=10)
        for gate in gates:
            gate.stop()
        redis.stop()
