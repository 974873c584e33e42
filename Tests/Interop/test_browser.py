"""The dev console and the chat page in a real browser: headless Chromium (Debian's `chromium`)
driven over the DevTools protocol (`browser.py`), against the built wsgate.

Skipped, with the reason printed, when Chromium is not installed; `.ci/run` installs it. Set
WSGATE_SCREENSHOTS=DIR to keep screenshots of both pages (they go to the test's temporary
directory otherwise).
"""

import asyncio
import os
import pathlib
import shlex

import pytest
from browser import Browser, chromium_path
from test_interop import ROOT, client, run, wsgate  # noqa: F401 (wsgate: fixture)

pytestmark = pytest.mark.skipif(chromium_path() is None,
                                reason="chromium is not installed (apt-get install chromium; .ci/run does)")
TIMEOUT = 20
CHAT_ROUTE = "/chat/*=shared-json:" + shlex.quote(str(ROOT / "handlers" / "chat"))


def screenshot_path(tmp_path, name):
    directory = pathlib.Path(os.environ.get("WSGATE_SCREENSHOTS", tmp_path))
    directory.mkdir(parents=True, exist_ok=True)
    return str(directory / name)


def entries(kind):
    """JavaScript: the texts of the console's log entries of `kind` (in, out, state)."""
    return f"[...document.querySelectorAll('#log li.{kind} .data')].map(e => e.textContent)"


def test_console_echoes_what_is_typed_and_shows_the_close(wsgate, tmp_path):
    count = ROOT / "handlers" / "count"
    server = wsgate("--devconsole", "--route", "/echo=echo", "--route", f"/count={count} --to 2 --pause 0")

    async def main():
        async with Browser.launch() as browser:
            page = await browser.open(f"http://127.0.0.1:{server.port}/echo", width=420, height=640, mobile=True)
            await page.wait_for("document.getElementById('status').textContent === 'open'", what="the console to connect")
            assert await page.evaluate("document.activeElement.id") == "message"
            await page.type("hello console ✓")
            await page.press_enter()  # Enter sends: nothing but the keyboard
            await page.wait_for(f"{entries('in')}.includes('hello console ✓')", what="the echo in the log")
            assert await page.evaluate(entries("out")) == ["hello console ✓"]
            sizes = await page.evaluate("[...document.querySelectorAll('#log li.in .size')].map(e => e.textContent)")
            assert sizes == ["[17 bytes text]"]
            assert await page.evaluate("document.getElementById('message').value") == ""
            # Binary: hex in, hex out.
            await page.evaluate("document.getElementById('kind').value = 'binary'")
            await page.type("48 69 ff")
            await page.press_enter()
            await page.wait_for(f"{entries('in')}.includes('48 69 ff')", what="the binary echo")
            await page.evaluate("document.getElementById('kind').value = 'text'")
            await page.type("one more")
            await page.press_enter()
            await page.wait_for(f"{entries('in')}.includes('one more')")
            await page.screenshot(screenshot_path(tmp_path, "console.png"))

            # A route whose program ends: its messages, then the close code, then Reconnect.
            page = await browser.open(f"http://127.0.0.1:{server.port}/count")
            await page.wait_for(f"{entries('state.close')}.length === 1", what="the close in the log")
            assert await page.evaluate(entries("in")) == ["1", "2"]
            assert await page.evaluate(entries("state.close")) == ["closed: code 1000"]
            assert await page.evaluate("document.getElementById('connect').textContent") == "Reconnect"
            await page.evaluate("document.getElementById('connect').click()")
            await page.wait_for(f"{entries('state.close')}.length === 2", what="the second session's close")
            assert await page.evaluate(entries("in")) == ["1", "2", "1", "2"]

    run(main(), timeout=90)


def test_chat_page_and_a_websockets_client_talk_both_ways(wsgate, tmp_path):
    server = wsgate("--staticdir", str(ROOT / "handlers" / "www"), "--route", CHAT_ROUTE)

    async def recv(ws):
        return await asyncio.wait_for(ws.recv(), TIMEOUT)

    async def main():
        async with Browser.launch() as browser, client(server.url("/chat/lobby")) as bob:
            page = await browser.open(f"http://127.0.0.1:{server.port}/chat.html?room=lobby", width=420, height=700,
                                      mobile=True)
            await page.wait_for("document.getElementById('status').className === 'open'", what="the page to connect")
            assert await page.evaluate("document.activeElement.id") == "name"
            await page.type("alice")
            await page.press_enter()
            await page.wait_for("document.activeElement.id === 'message'", what="the message field to take the focus")

            await bob.send("bob")
            assert await recv(bob) == "* bob joined the chat"
            log = "[...document.querySelectorAll('#log li')].map(e => e.textContent)"
            await page.wait_for(f"{log}.some(t => t.endsWith('bob joined the chat'))", what="bob's join")

            await page.type("hello bob")  # typing is announced while the user types
            assert await recv(bob) == "* alice is typing"
            await page.press_enter()
            assert await recv(bob) == "alice: hello bob"
            await bob.send("hi alice")
            await page.wait_for(f"{log}.some(t => t.endsWith('bob: hi alice'))", what="bob's message")

            await page.type("/msg bob psst")
            await page.press_enter()
            assert await recv(bob) == "[pm] alice: psst"
            await page.wait_for(f"{log}.some(t => t.endsWith('[pm to bob] psst'))", what="the page's own pm")
            await bob.send("/msg alice secret")
            assert await recv(bob) == "[pm to alice] secret"
            await page.wait_for(f"{log}.some(t => t.endsWith('[pm] bob: secret'))", what="bob's pm")

            await bob.send("/typing")
            await page.wait_for("document.getElementById('typing').textContent === 'bob is typing…'",
                                what="bob's typing indicator")
            await page.screenshot(screenshot_path(tmp_path, "chat.png"))
            # The indicator goes when bob's message comes.
            await bob.send("done typing")
            await page.wait_for("document.getElementById('typing').textContent === ''", what="the indicator to go")

    run(main(), timeout=90)
