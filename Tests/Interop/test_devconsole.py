"""--devconsole over HTTP (what a browser does with the page is Tests/Browser's): which requests
get the console, which get the list of routes, what keeps its old answer, and that everything
put into the pages is escaped.
"""

import asyncio
import http.client

from test_interop import TIMEOUT, client, run, wsgate  # noqa: F401 (wsgate: fixture)


def get(server, path, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type"), response.read().decode()
    finally:
        conn.close()


ROUTES = ("--route", "/echo=echo", "--route", "/chat/*=broadcast",
          "--route", "/tag<b>=sh -c 'echo \"<script>x</script>\" & cat'")


def test_console_for_every_route_and_a_list_at_the_root(wsgate):
    server = wsgate("--devconsole", *ROUTES)
    status, content_type, page = get(server, "/echo")
    assert (status, content_type) == (200, "text/html; charset=utf-8")
    assert "<title>wsgate console: /echo</title>" in page
    assert 'id="message"' in page and "autofocus" in page
    assert "http" not in page.replace("https:", "").replace("http-equiv", "")  # nothing fetched from elsewhere
    status, _, page = get(server, "/chat/room1?x=1")
    assert status == 200 and "wsgate console: /chat/*" in page

    status, _, index = get(server, "/")
    assert status == 200
    assert '<a href="/echo"><code>/echo</code></a>' in index
    assert '<a href="/chat/console"><code>/chat/*</code></a>' in index
    # A pattern and a command with markup in them are escaped, never markup.
    assert "<b>" not in index and "<script>x" not in index
    assert "/tag&lt;b&gt;" in index and "&lt;script&gt;x&lt;/script&gt;" in index
    assert "sh" in index and "lines" in index and "built-in" in index
    status, _, page = get(server, "/tag<b>")  # routes match the path as sent
    assert status == 200 and "<title>wsgate console: /tag&lt;b&gt;</title>" in page
    assert "<b>" not in page and "<script>x" not in page

    assert get(server, "/echo", "HEAD")[0] == 200
    assert get(server, "/echo", "POST")[0] == 405  # not the console's: the handshake's refusal, as before
    assert get(server, "/nothing")[0] == 404

    async def upgrade():  # the route itself still works
        async with client(server.url("/echo")) as ws:
            await ws.send("still echoing")
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "still echoing"

    run(upgrade())


def test_without_the_console_a_plain_get_of_a_route_is_426(wsgate):
    server = wsgate(*ROUTES)
    assert get(server, "/echo")[0] == 426
    assert get(server, "/")[0] == 404


def test_static_files_keep_their_paths_and_an_index_wins_over_the_list(wsgate, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "page.txt").write_text("a page")
    server = wsgate("--devconsole", "--staticdir", str(site), *ROUTES)
    assert get(server, "/page.txt")[2] == "a page"
    assert get(server, "/missing.txt")[0] == 404
    assert "wsgate routes" in get(server, "/")[2]  # no index.html: the list
    (site / "index.html").write_text("<h1>mine</h1>")
    assert get(server, "/")[2] == "<h1>mine</h1>"
    assert "wsgate console: /echo" in get(server, "/echo")[2]
