#!/usr/bin/env python3
"""Long-lived handler modes, measured in one run (a benchmark, not a test):

  1. echo through a `shared` route (one program for every client, Tests/Benchmarks/shared-echo)
     beside a per-connection `cat` route: 64 connections x 16 in flight x 32 B, wsgate bench as
     the load generator; messages/s, the gateway's own CPU per message, and the programs' CPU.
  2. fan-out: one sender's messages to FANOUT clients of a `fanout:cat` route (and of a `shared`
     route's `all`): the gateway's CPU per delivered message. Receivers are raw sockets that only
     count bytes, so the client side costs little.

CPU is utime+stime from /proc/PID/stat over the measured window; on 2 cores the load generator
competes with the server, so rates are shared-machine figures and CPU per message is the figure.
Needs: swift build -c release --product wsgate.
"""
import json
import os
import re
import selectors
import socket
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("WSGATE_BIN", os.path.join(ROOT, ".build", "release", "wsgate"))
DURATION = os.environ.get("DURATION", "5s")
FANOUT = int(os.environ.get("FANOUT", "1000"))
BURSTS = int(os.environ.get("BURSTS", "20"))
BURST = int(os.environ.get("BURST", "100"))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid, children=False):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    own = int(fields[11]) + int(fields[12])
    reaped = int(fields[13]) + int(fields[14])
    return (own + (reaped if children else 0)) / TICK


def start(*routes):
    process = subprocess.Popen(
        [BIN, "--address", "127.0.0.1", "--port", "0", "--loglevel", "info", "--ping-interval", "0",
         "--max-connections", "100000", *routes],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:
        match = re.search(r"event=server\.listen .*address=\S+:(\d+)", line)
        if match:
            port = int(match.group(1))
            break
    # Keep stderr drained.
    import threading
    threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
    return process, port


def program_pids(pid):
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        found += [int(x) for x in open(f"/proc/{pid}/task/{task}/children").read().split()]
    return found


def echo_case(name, port, path):
    server_pid = SERVER.pid
    programs = program_pids(server_pid)
    before = cpu_seconds(server_pid)
    before_programs = sum(cpu_seconds(p) for p in programs) + cpu_seconds(server_pid, True) - cpu_seconds(server_pid)
    out = subprocess.run([BIN, "bench", f"ws://127.0.0.1:{port}{path}", "-c", "64", "-p", "16", "-s", "32",
                          "-d", DURATION, "--json"], capture_output=True, text=True, timeout=120).stdout
    time.sleep(1.0)  # per-connection cats exit and are reaped, so their CPU is counted
    result = json.loads(out)
    gateway = cpu_seconds(server_pid) - before
    programs_now = sum(cpu_seconds(p) for p in programs if os.path.exists(f"/proc/{p}"))
    children = programs_now + cpu_seconds(server_pid, True) - cpu_seconds(server_pid) - before_programs
    n = result["completed"]
    print(f"{name:34s} {result['per_second']:>10,.0f} msg/s   gateway {gateway * 1e6 / n:5.2f} us CPU/msg"
          f"   programs {children * 1e6 / n:5.2f} us/msg   ({n:,} messages)")


def handshake(port, path):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head
    rest = head.split(b"\r\n\r\n", 1)[1]
    sock.setblocking(False)
    return sock, len(rest)


def masked_text(payload):
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload), 0, 0, 0, 0]) + payload  # a zero key leaves the payload as is


def fanout_case(name, port, path, make_line, greeting=0):
    receivers = [handshake(port, path) for _ in range(FANOUT)]
    sender, _ = receivers[0]
    selector = selectors.DefaultSelector()
    counts = {}
    for sock, already in receivers:
        counts[sock] = already
        selector.register(sock, selectors.EVENT_READ)
    line = make_line(b"x" * 32)
    frame_size = 2 + 32
    burst = b"".join(masked_text(line) for _ in range(BURST))
    expected = greeting
    # Settle greetings (shared: none are sent; fanout: none).
    before = cpu_seconds(SERVER.pid)
    started = time.monotonic()
    for _ in range(BURSTS):
        sender.setblocking(True)
        sender.sendall(burst)
        sender.setblocking(False)
        expected += BURST * frame_size
        waiting = sum(1 for c in counts.values() if c < expected)
        deadline = time.monotonic() + 60
        while waiting:
            assert time.monotonic() < deadline, "fan-out stalled"
            for key, _ in selector.select(timeout=1):
                data = key.fileobj.recv(1 << 20)
                if not data:
                    raise SystemExit(f"{name}: a receiver was closed (slow consumer?)")
                was = counts[key.fileobj]
                counts[key.fileobj] = was + len(data)
                if was < expected <= counts[key.fileobj]:
                    waiting -= 1
    elapsed = time.monotonic() - started
    gateway = cpu_seconds(SERVER.pid) - before
    deliveries = FANOUT * BURSTS * BURST
    print(f"{name:34s} {deliveries / elapsed:>10,.0f} deliveries/s   gateway {gateway * 1e6 / deliveries:5.3f} us CPU"
          f" per delivered message   ({FANOUT} clients x {BURSTS * BURST} messages)")
    for sock, _ in receivers:
        sock.close()


if __name__ == "__main__":
    shared_echo = os.path.join(ROOT, "Tests", "Benchmarks", "shared-echo")
    SERVER, port = start("--route", "/cat=cat", "--route", f"/shared=shared:{shared_echo}",
                         "--route", "/fan=fanout:cat", "--route", f"/all=shared:{shared_echo} --all")
    try:
        time.sleep(0.3)
        echo_case("echo via shared (one program)", port, "/shared")
        echo_case("echo via cat (one per connection)", port, "/cat")
        fanout_case("fanout:cat to all clients", port, "/fan", lambda text: text)
        fanout_case("shared 'all' to all clients", port, "/all", lambda text: text)
    finally:
        SERVER.terminate()
        SERVER.wait()
