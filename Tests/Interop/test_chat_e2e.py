"""End to end: handlers/chat and handlers/hub served by wsgate's shared modes, with Python's
`websockets` as the clients.

    --route '/chat/*=shared-json:handlers/chat'     --route '/hub/*=shared:handlers/hub'

The handlers' own behaviour is covered in detail by test_handlers_direct.py without wsgate; these
tests check that wsgate carries it: one program for every client of a route, ids mapped to the
right connections, escaping undone, rooms by path, and a `close` command closing a session.

"X sees nothing" is checked by order, never by sleeping: each session receives the program's
messages in the order the program wrote them, so when a later message is the next one X
receives, nothing was sent to X in between. Every receive has a timeout.
"""

import asyncio
import json
import pathlib
import shlex
import sys
import time
from contextlib import AsyncExitStack

import pytest
from websockets.exceptions import ConnectionClosed

# pytest's default (prepend) import mode puts this directory on sys.path; this keeps the import
# working under --import-mode=importlib too.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_interop import ROOT, TIMEOUT, Wsgate, client, run  # noqa: E402

CHAT_ROUTE = "/chat/*=shared-json:" + shlex.quote(str(ROOT / "handlers" / "chat"))
HUB_ROUTE = "/hub/*=shared:" + shlex.quote(str(ROOT / "handlers" / "hub"))


@pytest.fixture
def gateway():
    """wsgate with the chat and hub routes; stopped after the test."""
    server = Wsgate("--route", CHAT_ROUTE, "--route", HUB_ROUTE)
    yield server
    server.stop()


async def recv(ws):
    return await asyncio.wait_for(ws.recv(), TIMEOUT)


async def recv_json(ws):
    """The next message as a JSON event; its `ts` is checked (integer milliseconds, about now)
    and removed."""
    event = json.loads(await recv(ws))
    ts = event.pop("ts")
    assert type(ts) is int and abs(ts - time.time() * 1000) < 60_000
    return event


class Room:
    """Connections opened for one test, all closed at its end."""

    def __init__(self, server, stack):
        self.server = server
        self.stack = stack

    async def connect(self, path):
        return await self.stack.enter_async_context(client(self.server.url(path)))

    async def join(self, name, path, *present):
        """A text client named `name` on path; everyone in `present` (already there) and the
        newcomer get the join notice."""
        ws = await self.connect(path)
        await ws.send(name)
        for each in (ws, *present):
            assert await recv(each) == f"* {name} joined the chat"
        return ws


def test_chat_messages_private_messages_and_rooms(gateway):
    async def main():
        async with AsyncExitStack() as stack:
            room = Room(gateway, stack)
            alice = await room.join("alice", "/chat/a")
            bob = await room.join("bob", "/chat/a", alice)
            taken = await room.connect("/chat/a")
            await taken.send("bob")
            assert await recv(taken) == "! name taken"
            await taken.send("no good")
            assert await recv(taken) == "! invalid name"
            await taken.send("carol")
            carol = taken
            for each in (alice, bob, carol):
                assert await recv(each) == "* carol joined the chat"

            await alice.send("hello ✓ \\ with\na newline")
            for each in (bob, carol):
                assert await recv(each) == "alice: hello ✓ \\ with\na newline"

            await alice.send("/msg bob psst")
            assert await recv(bob) == "[pm] alice: psst"
            assert await recv(alice) == "[pm to bob] psst"
            await alice.send("/msg nobody hi")
            assert await recv(alice) == "! no user named nobody"
            await bob.send("after the pm")
            # The next message alice and carol get is bob's: carol never saw the pm, alice never
            # got her own message back.
            assert await recv(alice) == "bob: after the pm"
            assert await recv(carol) == "bob: after the pm"

            await carol.send("/typing")
            for each in (alice, bob):
                assert await recv(each) == "* carol is typing"
            await bob.send("/who")
            assert await recv(bob) == "* in the room: alice, bob, carol"

            # /chat/b is another room: the same name is free there, and nothing crosses.
            other = await room.join("alice", "/chat/b")
            await alice.send("only in a")
            for each in (bob, carol):
                assert await recv(each) == "alice: only in a"
            await other.send("/msg bob cross?")
            assert await recv(other) == "! no user named bob"
            await other.send("/who")
            assert await recv(other) == "* in the room: alice"
            await bob.send("/who")
            assert await recv(bob) == "* in the room: alice, bob, carol"

    run(main(), timeout=30)


def test_chat_json_client_among_text_clients(gateway):
    async def main():
        async with AsyncExitStack() as stack:
            room = Room(gateway, stack)
            alice = await room.join("alice", "/chat/mixed")
            bob = await room.join("bob", "/chat/mixed", alice)
            carol = await room.connect("/chat/mixed")
            await carol.send(json.dumps({"type": "join", "name": "bob"}))
            assert await recv_json(carol) == {"type": "error", "text": "name taken"}
            await carol.send(json.dumps({"type": "join", "name": "carol"}))
            assert await recv_json(carol) == {"type": "joined", "name": "carol"}
            for each in (alice, bob):
                assert await recv(each) == "* carol joined the chat"

            await alice.send("hi carol")
            assert await recv(bob) == "alice: hi carol"
            assert await recv_json(carol) == {"type": "message", "from": "alice", "text": "hi carol"}
            await carol.send(json.dumps({"type": "message", "text": "hi from JSON\n✓"}))
            for each in (alice, bob):
                assert await recv(each) == "carol: hi from JSON\n✓"

            await carol.send(json.dumps({"type": "pm", "to": "alice", "text": "psst"}))
            assert await recv(alice) == "[pm] carol: psst"
            assert await recv_json(carol) == {"type": "pm", "from": "carol", "to": "alice", "text": "psst"}
            await bob.send("/typing")
            assert await recv(alice) == "* bob is typing"  # not the pm before it
            assert await recv_json(carol) == {"type": "typing", "name": "bob"}

            await carol.send(json.dumps({"type": "who"}))
            assert await recv_json(carol) == {"type": "users", "names": ["alice", "bob", "carol"]}
            await carol.send(json.dumps({"type": "nick", "name": "cara"}))
            assert await recv_json(carol) == {"type": "nick", "old": "carol", "new": "cara"}
            for each in (alice, bob):
                assert await recv(each) == "* carol is now cara"

            await alice.send("/exit")
            assert await recv(bob) == "* alice left the chat"
            assert await recv_json(carol) == {"type": "left", "name": "alice"}

    run(main(), timeout=30)


def test_chat_exit_closes_with_1000_and_leaving_is_announced_once(gateway):
    async def main():
        async with AsyncExitStack() as stack:
            room = Room(gateway, stack)
            alice = await room.join("alice", "/chat/exit")
            bob = await room.join("bob", "/chat/exit", alice)
            carol = await room.join("carol", "/chat/exit", alice, bob)

            await bob.send("/exit")
            with pytest.raises(ConnectionClosed) as closed:
                await recv(bob)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
            for each in (alice, carol):
                assert await recv(each) == "* bob left the chat"

            await carol.close()  # a plain disconnect: announced like /exit
            assert await recv(alice) == "* carol left the chat"

            nameless = await room.connect("/chat/exit")
            await nameless.close()  # never named: nothing to announce
            await alice.send("/who")
            # Next after carol's notice: no second notice for bob or carol, none for the nameless.
            assert await recv(alice) == "* in the room: alice"

    run(main(), timeout=30)


def test_hub_announces_and_relays_through_the_shared_line_protocol(gateway):
    async def main():
        async with AsyncExitStack() as stack:
            room = Room(gateway, stack)
            one = await room.connect("/hub/x")
            joined = await recv(one)
            assert joined.startswith("* ") and joined.endswith(" joined")
            one_id = joined.split()[1]
            assert one_id.isdigit()
            two = await room.connect("/hub/x")
            joined = await recv(two)
            two_id = joined.split()[1]
            assert two_id.isdigit() and two_id != one_id
            assert await recv(one) == joined  # `all`: everyone, the newcomer included

            # Escaped on the way in (\ \n \r), relayed escaped, unescaped on the way out.
            text = "two\nlines, a \\ backslash, a \r and  spaces "
            await one.send(text)
            assert await recv(two) == f"{one_id}: {text}"
            await two.send("")
            assert await recv(one) == f"{two_id}: "

            await two.close()
            # `others` left `one` out: the next thing it gets is two's departure.
            assert await recv(one) == f"* {two_id} left"

    run(main(), timeout=30)
