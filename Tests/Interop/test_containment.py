"""Containment: what a program starts outside its process group (a daemon, via setsid) does not
outlive its session, nor wsgate (issue: hardening, "nothing survives a session, really")."""

import asyncio
import os
import pathlib
import shlex
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_interop import BINARY, TIMEOUT, Wsgate, client, run  # noqa: E402


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
    # The subreaper scan itself: with a writable cgroup v2 hierarchy, `auto` would use a cgroup.
    server = Wsgate("--cgroup", "off", "--route", f"/d={script}")
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
    server = Wsgate("--cgroup", "off", "--route", f"/f=fanout:{script}")
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


# --- cgroup v2 (--cgroup) --------------------------------------------------------------------

def cgroup2_directory(tmp_path):
    """A writable cgroup v2 directory for one test, and a function that cleans it up: a group
    below this process's own cgroup when that is writable cgroup v2, else a fresh cgroup2 mount
    (root only). None, with the reason printed, when neither is possible."""
    import subprocess

    mount_point = tmp_path / "cgroup2"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "cgroup2", "none", str(mount_point)], capture_output=True, text=True)
    if result.returncode != 0:
        print(f"cannot mount cgroup2 ({result.stderr.strip() or result.returncode}): cgroup tests skipped")
        return None, None
    directory = mount_point / f"wsgate-test-{os.getpid()}"
    directory.mkdir()

    def cleanup():
        for child in sorted(directory.glob("**/"), key=lambda p: len(p.parts), reverse=True):
            try:
                child.rmdir()
            except OSError:
                pass
        subprocess.run(["umount", str(mount_point)], check=False)

    return directory, cleanup


def env_clearing_daemon(tmp_path):
    """Like daemonizing_program, but the daemon also clears its environment (`env -i`), so no
    UNIQUE_ID marks it: only a cgroup still knows whose it is."""
    pidfile = tmp_path / "daemon.pid"
    script = tmp_path / "daemonize-clean"
    script.write_text(
        "#!/bin/sh\n"
        f"setsid -f env -i sh -c 'echo $$ > {shlex.quote(str(pidfile))}.tmp; mv {shlex.quote(str(pidfile))}.tmp "
        f"{shlex.quote(str(pidfile))}; exec sleep 1000' </dev/null >/dev/null 2>&1\n"
        "echo started\n"
        "while read -r line; do echo \"$line\"; done\n"
    )
    script.chmod(0o755)
    return script, pidfile


def test_cgroup_kills_a_daemon_that_cleared_its_environment(tmp_path):
    import pytest

    directory, cleanup = cgroup2_directory(tmp_path)
    if directory is None:
        pytest.skip("no writable cgroup v2 hierarchy (see the printed reason)")
    script, pidfile = env_clearing_daemon(tmp_path)
    server = Wsgate("--cgroup", str(directory), "--route", f"/d={script}")
    try:
        root = directory / f"wsgate-{server.process.pid}"
        assert root.is_dir()

        async def main():
            async with client(server.url("/d")) as ws:
                assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "started"
                pid = read_pid(pidfile)
                assert alive(pid)
                assert b"UNIQUE_ID" not in pathlib.Path(f"/proc/{pid}/environ").read_bytes()
                groups = [p.name for p in root.iterdir() if p.is_dir()]
                assert len(groups) == 1, groups
                assert str(pid) in (root / groups[0] / "cgroup.procs").read_text().split()
            return pid

        pid = run(main())
        assert wait_gone(pid), f"daemon {pid} outlived its session in spite of its cgroup"
        deadline = time.monotonic() + TIMEOUT
        while any(p.is_dir() for p in root.iterdir()):
            assert time.monotonic() < deadline, "the session's cgroup was not removed"
            time.sleep(0.05)
        server.process.terminate()
        assert server.wait(timeout=15) == 0
        assert not root.exists(), "wsgate's own cgroup directory outlived it"
        assert any("event=server.containment mechanism=cgroup" in line for line in list(server.lines))
    finally:
        server.stop()
        cleanup()


def test_cgroup_of_a_long_lived_program_is_emptied_when_wsgate_stops(tmp_path):
    import pytest

    directory, cleanup = cgroup2_directory(tmp_path)
    if directory is None:
        pytest.skip("no writable cgroup v2 hierarchy (see the printed reason)")
    script, pidfile = env_clearing_daemon(tmp_path)
    server = Wsgate("--cgroup", str(directory), "--route", f"/f=fanout:{script}")
    try:
        pid = read_pid(pidfile)
        assert alive(pid)
        server.process.terminate()
        assert server.wait(timeout=15) == 0
        assert wait_gone(pid), f"daemon {pid} outlived wsgate"
        assert not (directory / f"wsgate-{server.process.pid}").exists()
    finally:
        server.stop()
        cleanup()


def test_cgroup_directory_that_is_not_cgroup2_stops_wsgate_at_start(tmp_path):
    import subprocess

    result = subprocess.run([str(BINARY), "--cgroup", str(tmp_path), "--port", "0", "echo"],
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 2
    assert "not a directory of a cgroup v2 file system" in result.stderr
