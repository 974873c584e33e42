"""--metrics end to end: after a known workload, GET /metrics parsed with Prometheus' own text
parser (`prometheus_client.parser`) holds exactly the counts the workload implies; byte counts
are checked against the sessions' own close log lines. Every wait has a bound.
"""

import asyncio
import http.client
import os
import pathlib
import re
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_interop import ROOT, TIMEOUT, client, run, wsgate  # noqa: F401 (wsgate: fixture)
from websockets.exceptions import ConnectionClosed, InvalidStatus


def scrape(server, path="/metrics"):
    """(content type, {(sample name, frozenset of labels): value}) of one scrape."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read().decode()
        assert response.status == 200, body
        samples = {}
        for family in text_string_to_metric_families(body):
            for sample in family.samples:
                samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return response.getheader("Content-Type"), samples
    finally:
        conn.close()


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def wait_for(predicate, what, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def close_lines(server, path):
    """bytes_in and bytes_out summed over the session.close lines of `path`, and how many."""
    lines = [line for line in server.lines if "event=session.close" in line and f" path={path} " in line]
    total_in = sum(int(re.search(r"bytes_in=(\d+)", line).group(1)) for line in lines)
    total_out = sum(int(re.search(r"bytes_out=(\d+)", line).group(1)) for line in lines)
    return len(lines), total_in, total_out


def test_metrics_count_a_known_workload_exactly(wsgate, tmp_path):
    broken = tmp_path / "broken"
    broken.write_text("#!/nonexistent/interpreter\n")
    broken.chmod(0o755)
    count = ROOT / "handlers" / "count"
    server = wsgate("--loglevel", "access", "--metrics", "--max-message-size", "100",
                    "--route", "/echo=echo", "--route", f"/count={count} --to 3 --pause 0",
                    "--route", f"/broken={broken}", "--route", '/we"ird\\=echo')
    sessions, messages = 3, 4

    async def workload():
        for _ in range(sessions):
            async with client(server.url("/echo")) as ws:
                for i in range(messages):
                    await ws.send(f"message {i}")
                    assert await asyncio.wait_for(ws.recv(), TIMEOUT) == f"message {i}"
        async with client(server.url("/echo")) as ws:  # a message over the limit: 1009
            await ws.send("x" * 101)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert closed.value.rcvd.code == 1009
        for _ in range(2):  # two program sessions: 3 messages each, then 1000
            async with client(server.url("/count")) as ws:
                assert [await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in range(3)] == ["1", "2", "3"]
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), TIMEOUT)
        for path, status in (("/nope", 404), ("/broken", 502)):
            with pytest.raises(InvalidStatus) as refused:
                async with client(server.url(path)):
                    pass
            assert refused.value.response.status_code == status

    run(workload(), timeout=40)
    # The close lines are written when the sessions end, which may follow the client's view.
    wait_for(lambda: close_lines(server, "/echo")[0] == sessions + 1 and close_lines(server, "/count")[0] == 2,
             "every session's close line")
    content_type, samples = scrape(server)
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    echo, counted = {"route": "/echo"}, {"route": "/count"}
    assert value(samples, "wsgate_sessions_total", **echo) == sessions + 1
    assert value(samples, "wsgate_connections_open", **echo) == 0
    assert value(samples, "wsgate_messages_received_total", **echo) == sessions * messages
    assert value(samples, "wsgate_messages_sent_total", **echo) == sessions * messages
    assert value(samples, "wsgate_closes_total", code="1000", **echo) == sessions
    assert value(samples, "wsgate_closes_total", code="1009", **echo) == 1
    _, bytes_in, bytes_out = close_lines(server, "/echo")
    assert value(samples, "wsgate_bytes_received_total", **echo) == bytes_in
    assert value(samples, "wsgate_bytes_sent_total", **echo) == bytes_out
    assert bytes_in > sessions * messages * len("message 0")
    assert value(samples, "wsgate_sessions_total", **counted) == 2
    assert value(samples, "wsgate_messages_sent_total", **counted) == 6
    assert value(samples, "wsgate_messages_received_total", **counted) == 0
    assert value(samples, "wsgate_closes_total", code="1000", **counted) == 2
    assert value(samples, "wsgate_sessions_total", route="/broken") == 0
    # A label value with a quote and a backslash comes back whole through the parser.
    assert value(samples, "wsgate_sessions_total", route='/we"ird\\') == 0
    assert value(samples, "wsgate_handshake_failures_total", status="404") == 1
    assert value(samples, "wsgate_handshake_failures_total", status="502") == 1
    assert value(samples, "wsgate_process_spawns_total") == 2
    assert value(samples, "wsgate_process_spawn_failures_total") == 1
    assert value(samples, "wsgate_slow_consumer_closes_total", **echo) == 0
    assert value(samples, "wsgate_processes_running") == 0 or wait_for(
        lambda: value(scrape(server)[1], "wsgate_processes_running") == 0, "the programs to be cleaned up")
    # The usual process metrics, with plausible values.
    assert 0 < value(samples, "process_resident_memory_bytes") < 1 << 30
    assert 3 <= value(samples, "process_open_fds") <= value(samples, "process_max_fds")
    # From /proc/PID/stat in clock ticks (10 ms), so a quiet test run may well read 0: compare with
    # what /proc says of the same process after the scrape.
    stat = pathlib.Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu_after = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    assert 0 <= value(samples, "process_cpu_seconds_total") <= cpu_after
    assert abs(value(samples, "process_start_time_seconds") - time.time()) < 120

    # The first scrape is counted once it is answered; a plain GET of a route no responder took
    # is counted as a plain request too (426, responder "-"), not as a refused upgrade.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    conn.request("GET", "/echo")
    assert conn.getresponse().status == 426
    conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    conn.request("POST", "/metrics", body=b"x")
    assert conn.getresponse().status == 405
    conn.close()
    samples = wait_for(lambda: (s := scrape(server)[1]) and
                       value(s, "wsgate_http_requests_total", responder="metrics", status="405") == 1 and s,
                       "the 405 to be counted")
    assert value(samples, "wsgate_http_requests_total", responder="metrics", status="200") >= 1
    assert value(samples, "wsgate_http_requests_total", responder="-", status="426") == 1
    assert value(samples, "wsgate_handshake_failures_total", status="426") is None


def test_metrics_count_live_sessions_and_keepalive_round_trips(wsgate):
    server = wsgate("--metrics", "--metrics-path", "/internal/metrics", "--route", "/echo=echo",
                    "--ping-interval", "200ms", "--ping-timeout", "5s")

    async def main():
        async with client(server.url("/echo"), ping_interval=None) as ws:
            for text in ("a", "b"):
                await ws.send(text)
                assert await asyncio.wait_for(ws.recv(), TIMEOUT) == text
            # websockets answers the keepalive pings itself; wait until one round trip is counted.
            samples = await asyncio.to_thread(wait_for, lambda: (s := scrape(server, "/internal/metrics")[1]) and
                                              value(s, "wsgate_ping_rtt_seconds_count", route="/echo") >= 1 and s,
                                              "a keepalive round trip")
            assert value(samples, "wsgate_connections_open", route="/echo") == 1
            assert value(samples, "wsgate_messages_received_total", route="/echo") == 2
            assert value(samples, "wsgate_messages_sent_total", route="/echo") == 2
            assert value(samples, "wsgate_closes_total", route="/echo", code="1000") is None
            count = value(samples, "wsgate_ping_rtt_seconds_count", route="/echo")
            assert value(samples, "wsgate_ping_rtt_seconds_bucket", route="/echo", le="+Inf") == count
            assert 0 < value(samples, "wsgate_ping_rtt_seconds_sum", route="/echo") < count * 5
            buckets = sorted((float(dict(labels)["le"]), v) for (name, labels), v in samples.items()
                             if name == "wsgate_ping_rtt_seconds_bucket")
            assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative

    run(main(), timeout=30)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    conn.request("GET", "/metrics")  # not the configured path: no responder, no route
    assert conn.getresponse().status == 404
    conn.close()


def test_metrics_off_by_default(wsgate):
    server = wsgate("--route", "/echo=echo")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    conn.request("GET", "/metrics")
    assert conn.getresponse().status == 404
    conn.close()


def test_auth_refusals_are_counted_by_route(wsgate, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("s3cret-token\n")
    server = wsgate("--metrics", "--auth", f"bearer:{tokens}", "--route", "/echo=echo")

    async def main():
        for _ in range(2):
            with pytest.raises(InvalidStatus) as refused:
                async with client(server.url("/echo?access_token=wrong")):
                    pass
            assert refused.value.response.status_code == 401
        async with client(server.url("/echo?access_token=s3cret-token")) as ws:
            await ws.send("in")
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "in"

    run(main())
    samples = scrape(server)[1]
    assert value(samples, "wsgate_auth_refusals_total", route="/echo") == 2
    assert value(samples, "wsgate_handshake_failures_total", status="401") == 2
    assert value(samples, "wsgate_sessions_total", route="/echo") == 1
