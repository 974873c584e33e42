"""End to end: --once (issue 12): one session, then wsgate exits with its program's status."""


import pytest
from websockets.exceptions import ConnectionClosed

from test_interop import ROOT, client, run, wsgate  # noqa: F401 (the fixture)

FAIL = str(ROOT / "handlers" / "fail")


def test_once_exits_with_the_programs_status_and_accepts_nothing_else(wsgate):
    server = wsgate("--once", "--route", f"/fail={FAIL} 7", "--route", "/echo=echo")

    async def main():
        async with client(server.url("/fail")) as ws:
            # While the one session is open, nothing else is accepted.
            with pytest.raises(OSError):
                await client(server.url("/echo"))
            assert await ws.recv() == "partial output"
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 1011
    run(main())
    assert server.wait(timeout=10) == 7


def test_once_with_a_built_in_exits_0_after_a_normal_close(wsgate):
    server = wsgate("--once", "--route", "/echo=echo")

    async def main():
        async with client(server.url("/echo")) as ws:
            await ws.send("only")
            assert await ws.recv() == "only"
    run(main())
    assert server.wait(timeout=10) == 0


def test_once_is_not_used_up_by_a_refused_request(wsgate, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("t\n")
    server = wsgate("--once", "--auth", f"bearer:{tokens}", "--route", "/echo=echo")

    async def main():
        with pytest.raises(Exception):
            await client(server.url("/echo"))
        with pytest.raises(Exception):
            await client(server.url("/nowhere?access_token=t"))
        async with client(server.url("/echo?access_token=t")) as ws:
            await ws.send("after two refusals")
            assert await ws.recv() == "after two refusals"
            await ws.close(code=4000)
    run(main())
    # A built-in's session closed with a code other than 1000/1001: status 1.
    assert server.wait(timeout=10) == 1
