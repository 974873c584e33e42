"""The example handlers of shared and fanout routes, driven directly on their stdin and stdout.

No wsgate here: each test starts one handler program with subprocess and plays wsgate's side of
the protocol (`shared` lines for handlers/hub, `shared-json` objects for handlers/chat), then
resolves the commands the program writes (send / all / others / close with their id lists) into
what each simulated client receives, so the asserts read as "alice sees X, bob sees nothing".
Every read has a deadline: a reader thread per pipe feeds a queue, and nothing waits on a pipe
directly.

A chat test knows that all of the program's answers to its inputs have arrived through a
barrier: a probe client, alone in a room of its own, sends /who, and everything the program
wrote before the answer to that belongs to the inputs before it (the program handles its input
in order).
"""

import json
import os
import pathlib
import queue
import re
import shutil
import subprocess
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
HANDLERS = ROOT / "handlers"
HUB = HANDLERS / "hub"
CLOCK = HANDLERS / "clock"
CHAT = HANDLERS / "chat"
DASH = shutil.which("dash") or "/bin/sh"
TIMEOUT = 5

EOF = object()
# What wsgate passes a program by default (--passenv PATH,LD_LIBRARY_PATH): in particular no
# PYTHONUNBUFFERED, so a chat that forgot to flush fails here rather than behind a real pipe.
PROGRAM_ENV = {name: os.environ[name] for name in ("PATH", "LD_LIBRARY_PATH") if name in os.environ}


class Program:
    """One handler program on pipes. stdout lines go to a queue and stderr lines to a list, each
    read by a thread of its own, so no read can hang the test and no pipe can fill up."""

    def __init__(self, argv):
        self.argv = argv
        self.process = subprocess.Popen(
            [str(word) for word in argv],
            cwd=ROOT,
            env=PROGRAM_ENV,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.output = queue.Queue()
        self.errors = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self):
        for line in self.process.stdout:
            self.output.put(line)
        self.output.put(EOF)

    def _read_stderr(self):
        for line in self.process.stderr:
            self.errors.append(line.decode(errors="replace").rstrip("\n"))

    def write(self, line, timeout=TIMEOUT):
        """One line (str or bytes) on the program's stdin; a newline is added. The write runs on a
        thread of its own so that a program that stops reading fails the test instead of hanging it."""
        data = (line.encode() if isinstance(line, str) else line) + b"\n"
        failure = []

        def write():
            try:
                self.process.stdin.write(data)
                self.process.stdin.flush()
            except (BrokenPipeError, ValueError) as error:
                failure.append(error)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        writer.join(timeout)
        if writer.is_alive():
            pytest.fail(f"{self.argv[-1]} did not read its stdin within {timeout} s")
        if failure:
            pytest.fail(f"{self.argv[-1]} closed its stdin ({failure[0]}); stderr: {self.errors}")

    def read_line(self, timeout=TIMEOUT):
        """The next stdout line without its newline, as bytes; fails after timeout or at EOF."""
        try:
            line = self.output.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"{self.argv[-1]} wrote no line within {timeout} s; stderr: {self.errors}")
        if line is EOF:
            self.output.put(EOF)
            pytest.fail(f"{self.argv[-1]} closed stdout (exit {self.process.poll()}); stderr: {self.errors}")
        return line.rstrip(b"\n")

    def assert_quiet(self, period=0.3):
        """Nothing more on stdout for `period` seconds."""
        try:
            line = self.output.get(timeout=period)
        except queue.Empty:
            return
        pytest.fail(f"unexpected output: {line!r}")

    def finish(self, timeout=TIMEOUT):
        """Closes stdin; the lines written until EOF, and the exit status, within timeout."""
        self.process.stdin.close()
        deadline = time.monotonic() + timeout
        lines = []
        while True:
            try:
                line = self.output.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"{self.argv[-1]} did not close stdout within {timeout} s after EOF")
            if line is EOF:
                break
            lines.append(line.rstrip(b"\n"))
        try:
            status = self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.argv[-1]} did not exit within {timeout} s after EOF")
        return lines, status

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                stream.close()
            except OSError:
                pass


@pytest.fixture
def program():
    """A factory: program(*argv) starts one; all are killed and reaped after the test."""
    started = []

    def start(*argv):
        started.append(Program(argv))
        return started[-1]

    yield start
    for each in started:
        each.stop()


# ------------------------------------------------------------------------------------------------
# hub: the `shared` line protocol, under dash


def test_hub_is_executable_posix_sh():
    assert os.access(HUB, os.X_OK)
    assert HUB.read_text().startswith("#!/bin/sh\n")
    checked = subprocess.run([DASH, "-n", str(HUB)], capture_output=True, timeout=TIMEOUT)
    assert checked.returncode == 0, checked.stderr


def test_hub_announces_relays_and_keeps_text_escaped(program):
    hub = program(DASH, HUB)
    # Each answer is read while stdin is still open: the hub's output is not block-buffered.
    hub.write("open 1 /hub/a?x=1 127.0.0.1:50001")
    assert hub.read_line() == b"all * 1 joined"
    hub.write("open 2 /hub/a 127.0.0.1:50002")
    assert hub.read_line() == b"all * 2 joined"

    # TEXT as wsgate escapes it: backslashes, \n and \r stay escaped; spaces at either end and
    # runs of spaces stay; `*`, `%s`, `-n` and non-ASCII are not special to the hub.
    escaped = r"  two  spaces, a \\ backslash,\na newline\r, %s -n * é ✓  "
    hub.write(f"msg 1 {escaped}")
    assert hub.read_line() == f"others 1 1: {escaped}".encode()
    hub.write("msg 2 ")  # an empty message
    assert hub.read_line() == b"others 2 2: "
    hub.write("msg 2")  # the same, without the separator
    assert hub.read_line() == b"others 2 2: "

    # Binary, unknown events and malformed lines produce nothing: the next answer is the barrier's.
    for line in ["bin 1 aGVsbG8=", "", "garbage", "msg", "msg x hi", "frob 3 x", "open", "close  1000"]:
        hub.write(line)
    hub.write("open 3 /hub/b 127.0.0.1:50003")
    assert hub.read_line() == b"all * 3 joined"

    hub.write("close 1 1000")
    assert hub.read_line() == b"all * 1 left"
    hub.write("close 3 1006")
    rest, status = hub.finish()
    assert rest == [b"all * 3 left"]
    assert status == 0


def test_hub_runs_from_its_shebang(program):
    hub = program(HUB)
    hub.write("open 7 /hub/x 10.0.0.1:1234")
    hub.write(r"msg 7 a\\b")
    assert hub.read_line() == b"all * 7 joined"
    assert hub.read_line() == rb"others 7 7: a\\b"
    assert hub.finish() == ([], 0)


# ------------------------------------------------------------------------------------------------
# clock: one line a second, forever (fanout)


def test_clock_prints_the_time_every_second(program):
    assert os.access(CLOCK, os.X_OK)
    assert CLOCK.read_text().startswith("#!/bin/sh\n")
    clock = program(DASH, CLOCK)
    first = clock.read_line(timeout=3)
    after_first = time.monotonic()
    second = clock.read_line(timeout=3)
    gap = time.monotonic() - after_first
    pattern = re.compile(rb"([01]\d|2[0-3]):[0-5]\d:[0-5]\d")
    assert pattern.fullmatch(first) and pattern.fullmatch(second), (first, second)
    assert 0.5 <= gap <= 2.0, gap

    def seconds(stamp):
        hours, minutes, secs = (int(part) for part in stamp.split(b":"))
        return hours * 3600 + minutes * 60 + secs

    assert (seconds(second) - seconds(first)) % 86400 in (1, 2)
    assert clock.process.poll() is None  # still running: it is stopped by the fixture


# ------------------------------------------------------------------------------------------------
# chat: the `shared-json` protocol


class Client:
    """One simulated WebSocket client of the chat: what it sends is an event for the program,
    what the program's commands send to its id lands in `inbox`."""

    def __init__(self, chat, session_id, path):
        self.chat = chat
        self.id = session_id
        self.path = path
        self.inbox = []
        self.closed = None  # (code, reason) once the program closed this session

    def send(self, text):
        """Sends a text message and waits for the program's answers; returns its command lines."""
        return self.chat.event({"event": "msg", "id": self.id, "text": text})

    def send_json(self, **fields):
        return self.send(json.dumps(fields))

    def send_binary(self, base64):
        return self.chat.event({"event": "bin", "id": self.id, "data": base64})

    def disconnect(self, code=1006):
        """The session ends (the client closed with code, or vanished: 1006)."""
        self.chat.open_ids.discard(self.id)
        return self.chat.event({"event": "close", "id": self.id, "code": code})

    def take(self):
        """The messages received since the last take."""
        messages, self.inbox = self.inbox, []
        return messages

    def take_json(self):
        """The messages received since the last take, each a JSON event; `ts` is checked (an
        integer, milliseconds since the epoch, about now) and removed."""
        events = []
        for message in self.take():
            assert isinstance(message, str), message
            assert "\n" not in message
            event = json.loads(message)
            assert isinstance(event, dict) and isinstance(event.get("type"), str), event
            ts = event.pop("ts", None)
            assert type(ts) is int, message
            assert abs(ts - time.time() * 1000) < 60_000, message
            events.append(event)
        return events


class Chat:
    """handlers/chat with the wsgate side simulated: ids, the open sessions, and the routing of
    send / all / others / close to the clients."""

    PROBE = "/sync/probe"

    def __init__(self, program):
        self.program = program
        self.next_id = 1
        self.open_ids = set()
        self.clients = {}
        # The probe is set up by hand: until it has a name, there is no barrier.
        self.probe = Client(self, 0, self.PROBE)
        self.clients[0] = self.probe
        self.open_ids.add(0)
        program.write(json.dumps({"event": "open", "id": 0, "path": self.PROBE, "uri": self.PROBE}))
        program.write(json.dumps({"event": "msg", "id": 0, "text": "probe"}))
        joined = self.parse(program.read_line())
        assert joined == {"cmd": "send", "to": [0], "text": "* probe joined the chat"}
        self.barrier = {"cmd": "send", "to": [0], "text": "* in the room: probe"}

    def connect(self, path="/chat/lobby"):
        """A new session on path, as wsgate announces it; nothing is sent to the program's
        clients for it."""
        session_id = self.next_id
        self.next_id += 2  # ids need not be dense
        client = Client(self, session_id, path)
        self.clients[session_id] = client
        self.open_ids.add(session_id)
        query = "name=x&y=1"
        commands = self.event(
            {
                "event": "open",
                "id": session_id,
                "path": path,
                "uri": f"{path}?{query}",
                "remote": f"127.0.0.1:{50000 + session_id}",
                "env": {
                    "REMOTE_ADDR": "127.0.0.1",
                    "REMOTE_PORT": str(50000 + session_id),
                    "REQUEST_URI": f"{path}?{query}",
                    "SCRIPT_NAME": "/chat",
                    "PATH_INFO": path[len("/chat") :],
                    "QUERY_STRING": query,
                },
            }
        )
        assert commands == []
        return client

    def join(self, name, path="/chat/lobby"):
        """A text client that has chosen its name; its own join notice is taken."""
        client = self.connect(path)
        client.send(name)
        assert client.take() == [f"* {name} joined the chat"]
        return client

    def join_json(self, name, path="/chat/lobby"):
        """A JSON client that has joined; its own joined event is taken."""
        client = self.connect(path)
        client.send_json(type="join", name=name)
        assert client.take_json() == [{"type": "joined", "name": name}]
        return client

    def event(self, obj):
        self.program.write(json.dumps(obj))
        return self.settle()

    def raw(self, line):
        """A line as it is (str or bytes), which need not be valid; returns its commands."""
        self.program.write(line)
        return self.settle()

    def settle(self):
        """Waits for every answer to the inputs so far (the probe's /who is the barrier), routes
        them to the clients' inboxes, and returns them (the command objects)."""
        self.program.write(json.dumps({"event": "msg", "id": 0, "text": "/who"}))
        commands = []
        deadline = time.monotonic() + TIMEOUT
        while True:
            command = self.parse(self.program.read_line(timeout=max(0.01, deadline - time.monotonic())))
            if command == self.barrier:
                break
            commands.append(command)
            self.route(command)
        assert self.probe.take() == [], "a message reached the probe, alone in a room of its own"
        assert self.program.process.poll() is None, self.program.errors
        return commands

    @staticmethod
    def parse(line):
        """One output line: a JSON object that is a well-formed command."""
        command = json.loads(line.decode("utf-8"))
        assert isinstance(command, dict), line
        kind = command.get("cmd")
        fields = set(command)
        if kind in ("send", "all", "others"):
            assert len(fields & {"text", "data"}) == 1, line
            assert isinstance(command.get("text", command.get("data")), str), line
            expected = {"send": {"to"}, "all": set(), "others": {"except"}}[kind]
            assert fields - {"cmd", "text", "data"} == expected, line
        elif kind == "close":
            assert fields <= {"cmd", "to", "code", "reason"} and {"to", "code"} <= fields, line
            assert type(command["code"]) is int, line
        else:
            pytest.fail(f"unknown command: {line!r}")
        for key in ("to", "except"):
            if key in command:
                ids = command[key] if isinstance(command[key], list) else [command[key]]
                assert ids and all(type(each) is int for each in ids), line
        return command

    def route(self, command):
        def ids(value):
            return set(value if isinstance(value, list) else [value])

        kind = command["cmd"]
        if kind == "close":
            for session_id in ids(command["to"]):
                assert session_id in self.open_ids, f"close for a session that is not open: {command}"
                self.clients[session_id].closed = (command["code"], command.get("reason"))
            return
        if kind == "send":
            targets = ids(command["to"])
            assert targets <= self.open_ids, f"send to a session that is not open: {command}"
        elif kind == "all":
            targets = set(self.open_ids)
        else:
            targets = self.open_ids - ids(command["except"])
        message = command["text"] if "text" in command else ("binary", command["data"])
        for session_id in targets:
            self.clients[session_id].inbox.append(message)

    def inboxes(self, *clients):
        """Takes every listed client's messages: a tuple of lists, one per client."""
        return tuple(client.take() for client in clients)


@pytest.fixture
def chat(program):
    return Chat(program(CHAT))


def texts_to(commands):
    """(sorted ids, text) of each command, to check how many lines a notice took."""
    return [(sorted(c["to"]) if isinstance(c["to"], list) else [c["to"]], c.get("text")) for c in commands]


def test_chat_is_an_executable_python3_script():
    assert os.access(CHAT, os.X_OK)
    source = CHAT.read_text()
    assert source.startswith("#!/usr/bin/env python3\n")
    assert '"""' in source.split("\n", 2)[1], "the module docstring (the protocol reference) comes first"


def test_names_join_notices_and_relay_to_the_others(chat):
    alice = chat.join("alice")
    bob = chat.connect()
    assert bob.send("  bob  ") and bob.take() == ["* bob joined the chat"]  # trimmed
    assert alice.take() == ["* bob joined the chat"]

    carol = chat.connect()
    commands = carol.send("carol")
    # Everyone in the room, the newcomer included, gets the notice: one command line for all three.
    assert texts_to(commands) == [(sorted([alice.id, bob.id, carol.id]), "* carol joined the chat")]
    assert chat.inboxes(alice, bob, carol) == (["* carol joined the chat"],) * 3

    commands = alice.send("hello  there ")
    assert chat.inboxes(alice, bob, carol) == ([], ["alice: hello  there "], ["alice: hello  there "])
    assert len(commands) == 1
    carol.send("multi\nline ✓ \\ text")
    assert chat.inboxes(alice, bob, carol) == (["carol: multi\nline ✓ \\ text"],) * 2 + ([],)


def test_invalid_and_taken_names_are_refused_and_the_next_message_tried(chat):
    alice = chat.join("alice")
    dave = chat.connect()
    for attempt in ["", "   ", "a" * 33, "two words", "bad!", "é", "/who", '{"type":"join"']:
        dave.send(attempt)
        assert chat.inboxes(alice, dave) == ([], ["! invalid name"]), attempt
    dave.send("alice")
    assert chat.inboxes(alice, dave) == ([], ["! name taken"])
    dave.send(" alice ")  # trimmed before the check
    assert chat.inboxes(alice, dave) == ([], ["! name taken"])

    alice.send("not for the nameless")
    assert chat.inboxes(alice, dave) == ([], [])  # a client without a name is not in the chat yet

    name = "Dave_2-x" + "y" * 24  # 32 characters: letters, digits, _ and -
    dave.send(name)
    assert chat.inboxes(alice, dave) == ([f"* {name} joined the chat"],) * 2
    eve = chat.connect()
    eve.send("Alice")  # names are case-sensitive
    assert chat.inboxes(alice, eve) == (["* Alice joined the chat"],) * 2


def test_private_messages_reach_only_their_recipient(chat):
    alice, bob, carol = chat.join("alice"), chat.join("bob"), chat.join("carol")
    chat.inboxes(alice, bob, carol)

    alice.send("/msg bob psst, a  secret ")
    assert alice.take() == ["[pm to bob] psst, a  secret "]
    assert bob.take() == ["[pm] alice: psst, a  secret "]
    assert carol.take() == []
    alice.send("/msg nobody hello")
    assert chat.inboxes(alice, bob, carol) == (["! no user named nobody"], [], [])
    alice.send("/msg bob")
    assert chat.inboxes(alice, bob, carol) == (["! usage: /msg NAME TEXT"], [], [])

    elsewhere = chat.join("dave", "/chat/elsewhere")
    alice.send("/msg dave across rooms?")
    assert chat.inboxes(alice, bob, carol, elsewhere) == (["! no user named dave"], [], [], [])


def test_typing_who_and_nick(chat):
    carol, alice, bob = chat.join("carol"), chat.join("alice"), chat.join("bob")
    chat.inboxes(alice, bob, carol)

    commands = alice.send("/typing")
    assert chat.inboxes(alice, bob, carol) == ([], ["* alice is typing"], ["* alice is typing"])
    assert len(commands) == 1

    alice.send("/who")
    assert chat.inboxes(alice, bob, carol) == (["* in the room: alice, bob, carol"], [], [])

    commands = alice.send("/nick  zoe ")
    assert chat.inboxes(alice, bob, carol) == (["* alice is now zoe"],) * 3
    assert len(commands) == 1
    bob.send("/who")
    assert chat.inboxes(alice, bob, carol) == ([], ["* in the room: bob, carol, zoe"], [])

    alice.send("/nick bob")
    assert chat.inboxes(alice, bob, carol) == (["! name taken"], [], [])
    alice.send("/nick not valid")
    assert chat.inboxes(alice, bob, carol) == (["! invalid name"], [], [])
    alice.send("/nick")
    assert chat.inboxes(alice, bob, carol) == (["! invalid name"], [], [])

    # The new name is the one messages and PMs use; the old one is free again.
    alice.send("hi")
    assert chat.inboxes(alice, bob, carol) == ([], ["zoe: hi"], ["zoe: hi"])
    bob.send("/msg zoe psst")
    assert chat.inboxes(alice, bob, carol) == (["[pm] bob: psst"], ["[pm to zoe] psst"], [])
    bob.send("/msg alice psst")
    assert chat.inboxes(alice, bob, carol) == ([], ["! no user named alice"], [])
    newcomer = chat.join("alice")
    assert chat.inboxes(alice, bob, carol, newcomer) == (["* alice joined the chat"],) * 3 + ([],)

    alice.send("/frobnicate now")
    assert chat.inboxes(alice, bob, carol) == (["! unknown command /frobnicate"], [], [])


def test_exit_closes_with_1000_and_is_announced_once(chat):
    alice, bob, carol = chat.join("alice"), chat.join("bob"), chat.join("carol")
    chat.inboxes(alice, bob, carol)

    commands = bob.send("/exit")
    assert chat.inboxes(alice, bob, carol) == (["* bob left the chat"], [], ["* bob left the chat"])
    assert bob.closed == (1000, None)
    assert {"cmd": "close", "to": [bob.id], "code": 1000} in commands
    assert alice.closed is None and carol.closed is None

    bob.send("still here?")  # in flight before the close completed: dropped
    assert chat.inboxes(alice, bob, carol) == ([], [], [])
    assert bob.disconnect(1000) == []  # wsgate's close event for it: no second notice
    assert chat.inboxes(alice, bob, carol) == ([], [], [])

    alice.send("/who")
    assert alice.take() == ["* in the room: alice, carol"]
    again = chat.join("bob")  # the name is free
    assert chat.inboxes(alice, carol) == (["* bob joined the chat"],) * 2
    assert again.id != bob.id


def test_disconnect_is_announced_once_and_a_nameless_one_not_at_all(chat):
    alice, bob, carol = chat.join("alice"), chat.join("bob"), chat.join("carol")
    chat.inboxes(alice, bob, carol)

    commands = carol.disconnect(1006)
    assert chat.inboxes(alice, bob) == (["* carol left the chat"],) * 2
    assert len(commands) == 1
    assert carol.disconnect(1006) == []  # a second close for the same id: an unknown id now
    assert chat.inboxes(alice, bob) == ([], [])

    nameless = chat.connect()
    nameless.send("bad name!")
    assert nameless.take() == ["! invalid name"]
    assert nameless.disconnect(1001) == []
    assert chat.inboxes(alice, bob) == ([], [])

    alice.disconnect(1000)
    bob.send("/who")
    assert bob.take() == ["* alice left the chat", "* in the room: bob"]


def test_rooms_are_isolated(chat):
    alice_a, bob_a = chat.join("alice", "/chat/a"), chat.join("bob", "/chat/a")
    alice_b = chat.join("alice", "/chat/b")  # the same name in another room is fine
    carol_b = chat.join("carol", "/chat/b")
    assert chat.inboxes(alice_a, bob_a) == (["* bob joined the chat"], [])
    assert chat.inboxes(alice_b, carol_b) == (["* carol joined the chat"], [])

    alice_a.send("in a")
    assert chat.inboxes(alice_a, bob_a, alice_b, carol_b) == ([], ["alice: in a"], [], [])
    carol_b.send("/typing")
    assert chat.inboxes(alice_a, bob_a, alice_b, carol_b) == ([], [], ["* carol is typing"], [])
    bob_a.send("/who")
    carol_b.send("/who")
    assert chat.inboxes(bob_a, carol_b) == (["* in the room: alice, bob"], ["* in the room: alice, carol"])
    bob_a.send("/msg carol hi")
    assert chat.inboxes(alice_a, bob_a, alice_b, carol_b) == ([], ["! no user named carol"], [], [])
    alice_b.send("/nick bob")  # bob is taken in /chat/a only
    assert chat.inboxes(alice_a, bob_a) == ([], [])
    assert chat.inboxes(alice_b, carol_b) == (["* alice is now bob"],) * 2

    bob_a.send("/exit")
    carol_b.disconnect()
    assert chat.inboxes(alice_a, bob_a) == (["* bob left the chat"], [])
    assert chat.inboxes(alice_b, carol_b) == (["* carol left the chat"], [])


def test_json_and_text_clients_share_a_room_each_in_its_own_format(chat):
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.inboxes(alice, bob)

    carol = chat.connect()
    commands = carol.send_json(type="join", name="carol")
    assert chat.inboxes(alice, bob) == (["* carol joined the chat"],) * 2
    assert carol.take_json() == [{"type": "joined", "name": "carol"}]
    assert len(commands) == 2  # one line per format

    alice.send("hi all")
    assert bob.take() == ["alice: hi all"]
    assert carol.take_json() == [{"type": "message", "from": "alice", "text": "hi all"}]
    commands = carol.send_json(type="message", text="yo\n{\"not\": \"parsed\"} ✓")
    assert texts_to(commands) == [(sorted([alice.id, bob.id]), "carol: yo\n{\"not\": \"parsed\"} ✓")]
    assert chat.inboxes(alice, bob) == (["carol: yo\n{\"not\": \"parsed\"} ✓"],) * 2
    assert carol.take_json() == []

    carol.send_json(type="pm", to="alice", text="psst")
    assert chat.inboxes(alice, bob) == (["[pm] carol: psst"], [])
    assert carol.take_json() == [{"type": "pm", "from": "carol", "to": "alice", "text": "psst"}]
    alice.send("/msg carol back")
    assert chat.inboxes(alice, bob) == (["[pm to carol] back"], [])
    assert carol.take_json() == [{"type": "pm", "from": "alice", "to": "carol", "text": "back"}]

    carol.send_json(type="typing")
    assert chat.inboxes(alice, bob) == (["* carol is typing"],) * 2
    assert carol.take_json() == []
    bob.send("/typing")
    assert alice.take() == ["* bob is typing"]
    assert carol.take_json() == [{"type": "typing", "name": "bob"}]

    carol.send_json(type="who")
    assert carol.take_json() == [{"type": "users", "names": ["alice", "bob", "carol"]}]
    assert chat.inboxes(alice, bob) == ([], [])

    carol.send_json(type="nick", name="cara")
    assert chat.inboxes(alice, bob) == (["* carol is now cara"],) * 2
    assert carol.take_json() == [{"type": "nick", "old": "carol", "new": "cara"}]
    bob.send("/nick robert")
    assert carol.take_json() == [{"type": "nick", "old": "bob", "new": "robert"}]
    assert chat.inboxes(alice, bob) == (["* bob is now robert"],) * 2

    # Errors go to the JSON client only, as error events.
    for request, error in [
        ("plain text", "not a JSON object"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"type": "dance"}), "unknown type: dance"),
        (json.dumps({"text": "no type"}), "unknown type: null"),
        (json.dumps({"type": "message"}), 'missing or invalid "text"'),
        (json.dumps({"type": "message", "text": 5}), 'missing or invalid "text"'),
        (json.dumps({"type": "pm", "text": "x"}), 'missing or invalid "to"'),
        (json.dumps({"type": "pm", "to": "zed", "text": "x"}), "no user named zed"),
        (json.dumps({"type": "nick", "name": "alice"}), "name taken"),
        (json.dumps({"type": "nick", "name": "no way"}), "invalid name"),
        (json.dumps({"type": "nick"}), "invalid name"),
        (json.dumps({"type": "join", "name": "again"}), "already joined"),
    ]:
        carol.send(request)
        assert carol.take_json() == [{"type": "error", "text": error}], request
        assert chat.inboxes(alice, bob) == ([], []), request

    # A second JSON client: a refused join is answered and the next message is tried again.
    dave = chat.connect()
    dave.send_json(type="join", name="alice")
    assert dave.take_json() == [{"type": "error", "text": "name taken"}]
    dave.send_json(type="join", name="not valid")
    assert dave.take_json() == [{"type": "error", "text": "invalid name"}]
    dave.send_json(type="join")
    assert dave.take_json() == [{"type": "error", "text": "invalid name"}]
    dave.send_json(type="message", text="let me in")
    assert dave.take_json() == [{"type": "error", "text": 'join first: {"type":"join","name":NAME}'}]
    dave.send("dave")  # a JSON client stays one: plain text is not a join
    assert dave.take_json() == [{"type": "error", "text": 'join first: {"type":"join","name":NAME}'}]
    assert chat.inboxes(alice, bob, carol) == ([], [], [])
    commands = dave.send_json(type="join", name=" dave ")
    assert dave.take_json() == [{"type": "joined", "name": "dave"}]
    assert carol.take_json() == [{"type": "joined", "name": "dave"}]
    assert chat.inboxes(alice, bob) == (["* dave joined the chat"],) * 2
    recipients = [ids for ids, _ in texts_to(commands)]
    assert recipients == [sorted([alice.id, bob.id]), sorted([carol.id, dave.id])]  # a line per format

    # Leaving: /exit by a text client, exit by a JSON client, a JSON client vanishing.
    bob.send("/exit")
    assert alice.take() == ["* robert left the chat"]
    assert carol.take_json() == dave.take_json() == [{"type": "left", "name": "robert"}]
    carol.send_json(type="exit")
    assert carol.closed == (1000, None)
    assert alice.take() == ["* cara left the chat"]
    assert dave.take_json() == [{"type": "left", "name": "cara"}]
    carol.disconnect(1000)
    dave.disconnect(1006)
    assert alice.take() == ["* dave left the chat"]
    assert chat.inboxes(bob, carol) == ([], [])


def test_a_text_client_stays_text_after_its_first_message(chat):
    alice = chat.connect()
    alice.send("bad name!")
    alice.send(json.dumps({"type": "join", "name": "alice"}))
    assert alice.take() == ["! invalid name", "! invalid name"]
    alice.send("alice")
    assert alice.take() == ["* alice joined the chat"]
    alice.send(json.dumps({"type": "who"}))  # just a message to a text client: nobody to see it
    assert alice.take() == []


def test_binary_messages_get_an_error_in_the_clients_format(chat):
    alice, bob = chat.join("alice"), chat.join_json("bob")
    alice.take()
    alice.send_binary("aGVsbG8=")
    bob.send_binary("aGVsbG8=")
    assert alice.take() == ["! binary messages are not supported"]
    assert bob.take_json() == [{"type": "error", "text": "binary messages are not supported"}]


def test_malformed_lines_are_logged_and_skipped(chat):
    alice, bob = chat.join("alice"), chat.join("bob")
    alice.take()
    before = len(chat.program.errors)
    bad = [
        b"not json at all",
        b"",
        b"[1, 2, 3]",
        b'"a string"',
        b"{}",
        b'{"event":"msg"}',
        b'{"event":"msg","id":"%d","text":"id as a string"}' % alice.id,
        b'{"event":"msg","id":true,"text":"id as a bool"}',
        b'{"event":"msg","id":%d.0,"text":"id as a float"}' % alice.id,
        b'{"event":"msg","id":%d}' % alice.id,
        b'{"event":"msg","id":%d,"text":42}' % alice.id,
        b'{"event":"msg","id":424242,"text":"unknown id"}',
        b'{"event":"close","id":424242,"code":1000}',
        b'{"event":"bin","id":424242,"data":"AA=="}',
        b'{"event":"teleport","id":%d}' % alice.id,
        b'{"event":"open","id":%d,"path":"/chat/lobby"}' % alice.id,  # already open
        b'{"event":"msg","id":%d,"text":"lone \\ud800 surrogate"}' % alice.id,
        b'{"event":"msg","id":%d,"text":"\xff\xfe not UTF-8"}' % alice.id,
        b'{"event":"msg","id":%d,"text":"cut' % alice.id,
        b"[" * 100000,
        b'{"event":"msg","id":1' + b"0" * 5000 + b',"text":"huge id"}',
        b'{"event":"msg","id":NaN,"text":"x"}',
    ]
    for line in bad:
        assert chat.raw(line) == [], line
        assert chat.inboxes(alice, bob) == ([], []), line
    logged = chat.program.errors[before:]
    assert len(logged) >= len(bad) - 1, logged  # the empty line need not be logged
    assert all(line.startswith("chat: ") for line in logged), logged

    alice.send("still alive")
    assert chat.inboxes(alice, bob) == ([], ["alice: still alive"])
    assert chat.program.process.poll() is None


def test_end_of_input_ends_the_program_cleanly(chat):
    chat.join("alice")
    lines, status = chat.program.finish()
    assert lines == [] and status == 0
    assert not any("Traceback" in line for line in chat.program.errors)
