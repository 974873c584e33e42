"""Containment: what a program starts outside its process group (a daemon, via setsid) does not
outlive its session, nor wsgate (issue: hardening, "nothing survives a session, really")."""

import asyncio
import os
import pathlib
import shlex
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_interop import TIMEOUT, Wsgate, client, run  # noqa: E402


def alive(pid):
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_gone(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def daemonizing_program(tmp_path):
    """A handler that starts `sleep` in a session of its own (setsid -f: the intermediate process
    exits, so sleep is an orphan), writes its pid, then serves lines."""
    pidfile = tmp_path / "daemon.pid"
    script = tmp_path / "daemonize"
    script.write_text(
        "#!/bin/sh\n"
        f"setsid -f sh -c 'echo $$ > {shlex.quote(str(pidfile))}.tmp; mv {shlex.quote(str(pidfile))}.tmp "
        f"{shlex.quote(str(pidfile))}; exec sleep 1000' </dev/null >/dev/null 2>&1\n"
        "echo started\n"
        "while read -r line; do echo \"$line\"; done\n"
    )
    script.chmod(0o755)
    return script, pidfile


def read_pid(pidfile, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not pidfile.exists():
        assert time.monotonic() < deadline, "the daemon did not start"
        time.sleep(0.02)
    return int(pidfile.read_text())


def test_daemon_started_by_a_session_dies_with_the_session(tmp_path):
    script, pidfile = daemonizing_program(tmp_path)
    server = Wsgate("--route", f"/d={script}")
    try:
        async def main():
            async with client(server.url("/d")) as ws:
                assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "started"
                pid = read_pid(pidfile)
                assert alive(pid)
                assert os.getsid(pid) == pid  # it left the program's session and group
            return pid

        pid = run(main())
        assert wait_gone(pid), f"daemon {pid} outlived its session"
        # The log line is written by wsgate's log thread and read by ours: wait for it too.
        deadline = time.monotonic() + TIMEOUT
        while not any("event=process.orphan_killed" in line for line in list(server.lines)):
            assert time.monotonic() < deadline, "no process.orphan_killed line"
            time.sleep(0.05)
    finally:
        server.stop()


def test_daemon_of_a_long_lived_program_dies_with_wsgate(tmp_path):
    script, pidfile = daemonizing_program(tmp_path)
    server = Wsgate("--route", f"/f=fanout:{script}")
    try:
        pid = read_pid(pidfile)
        assert alive(pid)
        server.process.terminate()
        assert server.wait(timeout=15) == 0
        assert wait_gone(pid), f"daemon {pid} outlived wsgate"
    finally:
        server.stop()


def cpu_seconds(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_program_flooding_stderr_costs_bounded_log_and_cpu():
    # `yes >&2` wrote 130 MB of log in 3 s at 95% CPU before stderr had a budget.
    server = Wsgate("--route", "/noisy=sh -c 'yes flood >&2'", "--route", "/echo=echo")
    try:
        async def main():
            async with client(server.url("/noisy")):
                before = cpu_seconds(server.process.pid)
                started = time.monotonic()
                await asyncio.sleep(3)
                async with client(server.url("/echo")) as echo:
                    await echo.send("still here")
                    assert await asyncio.wait_for(echo.recv(), TIMEOUT) == "still here"
                return cpu_seconds(server.process.pid) - before, time.monotonic() - started

        spent, elapsed = run(main())
        logged = sum("event=process.stderr " in line for line in list(server.lines))
        assert logged <= 200 + 100 * (elapsed + 1), f"{logged} stderr lines logged in {elapsed:.1f} s"
        assert logged >= 100
        assert spent < 0.3 * elapsed, f"wsgate used {spent:.2f} s of CPU in {elapsed:.1f} s"
        deadline = time.monotonic() + TIMEOUT
        while not any("event=process.stderr_suppressed" in line for line in list(server.lines)):
            assert time.monotonic() < deadline, "no summary of suppressed lines"
            time.sleep(0.05)
    finally:
        server.stop()


def test_a_stalled_reader_of_wsgates_stderr_never_stalls_the_gateway():
    # The log is written by a thread of its own through a bounded buffer: with nobody reading
    # wsgate's stderr (a full pipe), sessions are still served, and what did not fit is counted.
    server = Wsgate("--route", "/echo=echo", "--loglevel", "debug")
    server.pause_draining()
    try:
        async def main():
            async with client(server.url("/echo")) as ws:
                # Debug logs every frame twice: far more than a pipe and the log buffer hold.
                payload = "x" * 100
                for _ in range(20):
                    for _ in range(500):
                        await ws.send(payload)
                    for _ in range(500):
                        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == payload
            async with client(server.url("/echo")) as ws:
                await ws.send("still served")
                assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "still served"

        run(main(), timeout=60)
        server.resume_draining()
        deadline = time.monotonic() + TIMEOUT
        while not any("event=log.dropped" in line for line in list(server.lines)):
            assert time.monotonic() < deadline, "no log.dropped line"
            time.sleep(0.05)
    finally:
        server.stop()
