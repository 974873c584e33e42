"""A small Chrome DevTools Protocol client for the browser tests: headless Chromium started on a
free debugging port, one page driven over the protocol's WebSocket with Python's `websockets`.

    async with Browser.launch() as browser:
        page = await browser.open("http://127.0.0.1:8080/echo")
        await page.wait_for("document.readyState === 'complete'")
        await page.type("hello"); await page.press_enter()

Chromium runs in a process group of its own, stopped (the whole group) when the block ends.
Every wait has a bound.
"""

import asyncio
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading

from websockets.asyncio.client import connect

TIMEOUT = 20


def chromium_path():
    """Debian's chromium, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    def __init__(self, process, socket, profile):
        self.process = process
        self.socket = socket
        self.profile = profile
        self.next_id = 0
        self.pending = {}
        self.reader = asyncio.create_task(self._read())

    @classmethod
    def launch(cls):
        return _Launch()

    async def _read(self):
        async for text in self.socket:
            message = json.loads(text)
            future = self.pending.pop(message.get("id"), None)
            if future is not None and not future.done():
                future.set_result(message)

    async def send(self, method, session=None, **params):
        """Sends one command and returns its result; a protocol error raises."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.socket.send(json.dumps(message))
        reply = await asyncio.wait_for(future, TIMEOUT)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def open(self, url, width=800, height=600, mobile=False):
        """A new tab at `url`, its viewport `width` x `height` CSS pixels."""
        target = (await self.send("Target.createTarget", url="about:blank"))["targetId"]
        session = (await self.send("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
        page = Page(self, session)
        await page.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                        mobile=mobile)
        await page.send("Page.enable")
        await page.send("Page.navigate", url=url)
        await page.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'")
        return page


class _Launch:
    async def __aenter__(self):
        self.profile = tempfile.mkdtemp(prefix="wsgate-chromium-")
        self.process = subprocess.Popen(
            [chromium_path(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--remote-debugging-port=0",
             f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        url = await asyncio.wait_for(asyncio.to_thread(self._devtools_url), TIMEOUT)
        socket = await connect(url, max_size=None, open_timeout=TIMEOUT, proxy=None)
        self.browser = Browser(self.process, socket, self.profile)
        return self.browser

    def _devtools_url(self):
        # Chromium prints "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID" on stderr.
        seen = []
        for line in self.process.stderr:
            text = line.decode(errors="replace")
            seen.append(text)
            match = re.search(r"DevTools listening on (ws://\S+)", text)
            if match:
                # Keep draining stderr, so Chromium never blocks on a full pipe.
                threading.Thread(target=lambda: [None for _ in self.process.stderr], daemon=True).start()
                return match.group(1)
        raise RuntimeError("chromium did not print its DevTools URL:\n" + "".join(seen))

    async def __aexit__(self, *exc):
        browser = getattr(self, "browser", None)
        if browser is not None:
            browser.reader.cancel()
            await browser.socket.close()
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, browser, session):
        self.browser = browser
        self.session = session

    async def send(self, method, **params):
        return await self.browser.send(method, session=self.session, **params)

    async def evaluate(self, expression):
        """The value of a JavaScript expression (awaited when it is a promise)."""
        result = await self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression, timeout=TIMEOUT, what=None):
        """Polls until `expression` is truthy; returns its value."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what or expression}")
            await asyncio.sleep(0.05)

    async def type(self, text):
        """Types `text` into whatever has the focus, as a keyboard would (input events fire)."""
        await self.send("Input.insertText", text=text)

    async def press_enter(self):
        for kind in ("keyDown", "keyUp"):
            await self.send("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter",
                            windowsVirtualKeyCode=13, nativeVirtualKeyCode=13,
                            **({"text": "\r"} if kind == "keyDown" else {}))

    async def screenshot(self, path):
        data = (await self.send("Page.captureScreenshot", format="png"))["data"]
        with open(path, "wb") as file:
            file.write(base64.b64decode(data))
        return path
