/// The dev console's two pages, whole: no file, no CDN, nothing fetched but the WebSocket itself.
/// Every value put in is escaped here (`htmlEscaped`); the scripts read nothing from the page but
/// its own location.
enum DevConsolePage {
    /// The console for one route. It connects to the page's own path and query (ws: or wss: as
    /// the page was served) on load.
    static func console(pattern: String, handler: String, mode: String) -> String {
        let title = htmlEscaped(pattern)
        return #"""
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>wsgate console: \#(title)</title>
            <style>\#(Self.style)
              #bar { display: flex; gap: .5rem; padding: .5rem 1rem; flex-wrap: wrap; align-items: center; }
              #url { flex: 1 1 16rem; }
              #status { font-weight: 600; }
              #status.open { color: #16a34a; } #status.closed { color: #dc2626; } #status.connecting { color: #b45309; }
              #log { flex: 1; overflow-y: auto; margin: 0; padding: .25rem 1rem; list-style: none; font: 14px/1.35 ui-monospace, monospace; }
              #log li { padding: .1rem 0; border-bottom: 1px solid var(--faint); overflow-wrap: anywhere; white-space: pre-wrap; }
              #log .meta { color: var(--muted); margin-right: .5rem; }
              #log .out .dir { color: #2563eb; } #log .in .dir { color: #16a34a; }
              #log .state { color: var(--muted); font-style: italic; } #log .error { color: #dc2626; }
              #send { display: flex; gap: .5rem; padding: .5rem 1rem; border-top: 1px solid var(--line); }
              #message { flex: 1 1 auto; }
            </style>
            </head>
            <body>
            <header><h1>wsgate console: <code>\#(title)</code></h1>
              <p class="muted">handler <code>\#(htmlEscaped(handler))</code> · mode \#(htmlEscaped(mode)) · <a href="/">all routes</a></p></header>
            <div id="bar">
              <label for="url" class="sr">WebSocket URL</label>
              <input id="url" spellcheck="false" autocomplete="off">
              <button id="connect" type="button">Connect</button>
              <span id="status" role="status" aria-live="polite">not connected</span>
            </div>
            <ol id="log" aria-label="Messages, newest last"></ol>
            <form id="send" autocomplete="off">
              <label for="message" class="sr">Message</label>
              <input id="message" placeholder="Message, then Enter" autofocus>
              <label for="kind" class="sr">Send as</label>
              <select id="kind"><option value="text">text</option><option value="binary">binary (hex)</option></select>
              <button type="submit">Send</button>
            </form>
            <script>
            "use strict";
            (() => {
              const $ = (id) => document.getElementById(id);
              const log = $("log"), status = $("status"), url = $("url"), connectButton = $("connect");
              const message = $("message"), kind = $("kind");
              url.value = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + location.pathname + location.search;
              let socket = null;
              const time = () => new Date().toLocaleTimeString([], { hour12: false }) + "." + String(Date.now() % 1000).padStart(3, "0");
              const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
              const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");

              function add(cls, dir, size, text) {
                const item = document.createElement("li");
                item.className = cls;
                const meta = document.createElement("span");
                meta.className = "meta";
                meta.textContent = time();
                item.append(meta);
                if (dir) {
                  const arrow = document.createElement("span");
                  arrow.className = "dir";
                  arrow.textContent = dir + " ";
                  item.append(arrow);
                }
                if (size !== null) {
                  const length = document.createElement("span");
                  length.className = "meta size";
                  length.textContent = "[" + size + "]";
                  item.append(length);
                }
                const body = document.createElement("span");
                body.className = "data";
                body.textContent = text;
                item.append(body);
                const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
                log.append(item);
                if (atBottom) log.scrollTop = log.scrollHeight;
              }

              function setStatus(text, cls) {
                status.textContent = text;
                status.className = cls;
                connectButton.textContent = cls === "closed" ? "Reconnect" : "Disconnect";
              }

              function describe(data) {
                if (typeof data === "string") return [plural(new TextEncoder().encode(data).length, "byte") + " text", data];
                const bytes = new Uint8Array(data);
                const shown = bytes.length > 4096 ? hex(bytes.subarray(0, 4096)) + " …" : hex(bytes);
                return [plural(bytes.length, "byte") + " binary", shown];
              }

              function connect() {
                if (socket) { socket.onclose = null; socket.close(); }
                let ws;
                try { ws = new WebSocket(url.value); } catch (e) { add("state error", "", null, "cannot connect: " + e.message); setStatus("closed", "closed"); return; }
                socket = ws;
                ws.binaryType = "arraybuffer";
                setStatus("connecting…", "connecting");
                add("state", "", null, "connecting to " + url.value);
                ws.onopen = () => {
                  setStatus("open", "open");
                  add("state", "", null, "open" + (ws.protocol ? ", subprotocol " + ws.protocol : "") + (ws.extensions ? ", " + ws.extensions : ""));
                };
                ws.onmessage = (event) => { const [size, text] = describe(event.data); add("in", "←", size, text); };
                ws.onerror = () => add("state error", "", null, "error (the browser tells no more; see wsgate's log)");
                ws.onclose = (event) => {
                  if (socket !== ws) return;
                  setStatus("closed " + event.code, "closed");
                  add("state close", "", null, "closed: code " + event.code + (event.reason ? ", reason “" + event.reason + "”" : "") + (event.wasClean ? "" : ", not clean"));
                  socket = null;
                };
              }

              connectButton.addEventListener("click", () => {
                if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, "closed in the console");
                else connect();
                message.focus();
              });
              url.addEventListener("keydown", (event) => { if (event.key === "Enter") { event.preventDefault(); connect(); message.focus(); } });

              $("send").addEventListener("submit", (event) => {
                event.preventDefault();
                if (!socket || socket.readyState !== WebSocket.OPEN) { add("state error", "", null, "not connected: press Reconnect"); return; }
                let data = message.value;
                if (kind.value === "binary") {
                  const digits = data.replace(/[\s,]|0x/g, "");
                  if (!/^([0-9a-fA-F]{2})*$/.test(digits)) { add("state error", "", null, "binary: give hex bytes, e.g. 48 69 or 0x48,0x69"); return; }
                  data = Uint8Array.from(digits.match(/../g) || [], (pair) => parseInt(pair, 16));
                }
                socket.send(data);
                const [size, text] = describe(typeof data === "string" ? data : data.buffer);
                add("out", "→", size, text);
                message.value = "";
              });

              connect();
              message.focus();
            })();
            </script>
            </body>
            </html>

            """#
    }

    /// The list of routes at `/`.
    static func index(routes: [(pattern: String, link: String, handler: String, mode: String)]) -> String {
        let rows = routes.map { route in
            "<tr><td><a href=\"\(htmlEscaped(route.link))\"><code>\(htmlEscaped(route.pattern))</code></a></td>"
                + "<td><code>\(htmlEscaped(route.handler))</code></td><td>\(htmlEscaped(route.mode))</td></tr>"
        }.joined(separator: "\n")
        return #"""
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>wsgate routes</title>
            <style>\#(Self.style)
              main { padding: 0 1rem; overflow-x: auto; }
              table { border-collapse: collapse; }
              th, td { text-align: left; padding: .35rem .75rem .35rem 0; border-bottom: 1px solid var(--faint); vertical-align: top; }
            </style>
            </head>
            <body>
            <header><h1>wsgate routes</h1><p class="muted">Each path opens a console that connects to it.</p></header>
            <main><table>
            <thead><tr><th>path</th><th>handler</th><th>mode</th></tr></thead>
            <tbody>
            \#(rows)
            </tbody></table></main>
            </body>
            </html>

            """#
    }

    private static let style = """

          :root { color-scheme: light dark; --muted: #6b7280; --line: #d1d5db; --faint: rgba(127,127,127,.2); }
          * { box-sizing: border-box; }
          body { margin: 0; font: 16px/1.4 system-ui, sans-serif; display: flex; flex-direction: column; height: 100vh; height: 100dvh; }
          header { padding: .5rem 1rem 0; }
          h1 { font-size: 1.15rem; margin: 0; overflow-wrap: anywhere; }
          .muted { color: var(--muted); margin: .2rem 0; font-size: .9rem; overflow-wrap: anywhere; }
          input, select, button { font: inherit; padding: .45rem .6rem; border: 1px solid var(--line); border-radius: .4rem; min-width: 0; }
          button { cursor: pointer; }
          :focus-visible { outline: 3px solid #2563eb; outline-offset: 1px; }
          .sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
        """
}
