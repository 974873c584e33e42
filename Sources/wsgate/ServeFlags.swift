/// One flag of `wsgate [flags] ...`: a name the parser accepts, the value it takes, and where and
/// how `--help` lists it.
struct ServeFlag {
    /// The sections of `--help`, in order.
    enum Group: String, CaseIterable {
        case serving = "Serving"
        case handlers = "Handlers and modes"
        case limits = "Limits and timeouts"
        case keepalive = "Keepalive"
        case compression = "Compression (permessage-deflate, RFC 7692)"
        case security = "Security"
        case tls = "TLS (wss://)"
        case scaling = "Several instances (Redis, a proxy in front)"
        case logging = "Logging"
        case general = "General"
        case unsupported = "websocketd's flags not supported yet (refused with a message, status 2)"
    }

    /// `--port`. Go's flag package, and so websocketd, also accepts `-port`: the parser does too.
    let name: String
    /// Other spellings (`-h` for `--help`).
    let aliases: [String]
    /// What the value looks like in `--help` (`N`); nil for a switch, which takes no separate
    /// value but may be written `--flag=true` or `--flag=false`.
    let value: String?
    let group: Group
    /// One line; `\n` continues it on the next, under the first.
    let help: String
    /// How many values it takes: what a configuration file's array for it means.
    let arity: Arity

    enum Arity {
        /// One value; the last one given counts.
        case one
        /// Each value adds one (`--header`): an array in the file gives several.
        case repeatable
        /// One comma-separated list (`--origin`): an array in the file is that list.
        case commaList
    }

    init(_ name: String, _ value: String?, _ group: Group, _ help: String, aliases: [String] = [],
         arity: Arity = .one) {
        self.name = name
        self.aliases = aliases
        self.value = value
        self.group = group
        self.help = help
        self.arity = arity
    }

    /// Whether a configuration file may set it as a top-level key (named without `--`): not the
    /// general flags, nor the routes, which the file writes as `[[route]]` tables.
    var isFileKey: Bool {
        self.group != .general && !["--route", "--binary-route", "--config"].contains(self.name)
    }

    var isSwitch: Bool { self.value == nil }

    /// Every spelling the parser accepts as written, the name first.
    var spellings: [String] { [self.name] + self.aliases }
}

/// Every flag `wsgate [flags] ...` knows, in `--help`'s order. The parser takes its names from
/// here and `--help` is printed from here, so neither can know a flag the other does not.
enum ServeFlags {
    static let all: [ServeFlag] = [
        .init("--route", "PATH=HANDLER", .serving, "serve PATH with HANDLER (repeatable; each PATH once)",
              arity: .repeatable),
        .init("--config", "FILE", .serving,
              "read settings and routes from the TOML FILE (see the README); flags\n"
                + "given here win over its top-level keys; SIGHUP reads it again"),
        .init("--address", "ADDR", .serving,
              "listen on ADDR: 127.0.0.1, ::1, [::1], or a name such as localhost\n"
                + "(every address it resolves to); repeatable (default 0.0.0.0 and ::)", arity: .repeatable),
        .init("--port", "N", .serving, "TCP port (default 8080; 0 picks a free one)"),
        .init("--unixsocket", "PATH", .serving,
              "listen on a Unix socket too (repeatable); without --address or\n"
                + "--port, only there; a stale socket file is replaced", arity: .repeatable),
        .init("--unixsocket-mode", "MODE", .serving, "octal file mode of --unixsocket files (default 0660)"),
        .init("--subprotocol", "NAME", .serving, "offer NAME as a subprotocol (repeatable, preferred first)",
              arity: .repeatable),

        .init("--dir", "[MODE:]DIR", .handlers,
              "serve each executable file below DIR at its path (MODE: lines,\nbinary or pty)"),
        .init("--staticdir", "DIR", .handlers,
              "serve the files below DIR to plain GET and HEAD requests (not\nupgrades): index.html for a directory, ranges, 304s"),
        .init("--cgidir", "DIR", .handlers,
              "run the executables below DIR as CGI/1.1 scripts for plain\nrequests (GET, HEAD, POST); tried before --staticdir"),
        .init("--devconsole", nil, .handlers,
              "a plain browser GET of a route's path shows a console for it;\n"
                + "GET / lists the routes (for development: it shows your commands)"),
        .init("--binary", nil, .handlers, "program routes written without a MODE run in binary mode"),
        .init("--binary-route", "PATH=COMMAND", .handlers,
              "one binary-mode program route: --route PATH=binary:COMMAND", arity: .repeatable),
        .init("--once", nil, .handlers,
              "serve one session, then exit with its program's exit status (others\n"
                + "are not accepted meanwhile)"),
        .init("--passenv", "LIST", .handlers,
              "comma-separated variables of wsgate's environment passed to\nprograms (default PATH,LD_LIBRARY_PATH)",
              arity: .commaList),
        .init("--closems", "MS", .handlers, "extra milliseconds each step of stopping a program waits (default 0)"),
        .init("--cgroup", "auto|off|DIR", .handlers,
              "start each program in a cgroup v2 group of its own below DIR,\n"
                + "killed with its session; auto: below wsgate's own cgroup when\n"
                + "that is writable (default auto)"),

        .init("--max-connections", "N", .limits, "beyond N connections, new clients get 503 (default 10000)"),
        .init("--maxforks", "N", .limits, "per-connection programs at once; beyond it, 503 (default no limit)"),
        .init("--threads", "N", .limits,
              "event loops, one thread each, sharing the listeners (default 1);\n"
                + "limits, rooms and long-lived programs stay process-wide"),
        .init("--max-message-size", "SIZE", .limits, "largest message; a larger one closes with 1009 (default 1MiB)"),
        .init("--max-queued-bytes", "SIZE", .limits, "per-client send queue bound (default 1MiB)"),
        .init("--max-header-size", "SIZE", .limits, "largest request head; a larger one gets 431 (default 16KiB)"),
        .init("--handshake-timeout", "DUR", .limits,
              "close a connection whose request is incomplete by then (default 10s)"),
        .init("--http-idle-timeout", "DUR", .limits,
              "close a kept-alive HTTP connection idle this long between\nrequests (default 10s)"),
        .init("--max-request-body", "SIZE", .limits,
              "largest plain request body (a CGI POST); larger gets 413\n(default 1MiB)"),
        .init("--cgi-timeout", "DUR", .limits,
              "stop a CGI script silent this long: 504 before its headers\n(default 30s)"),
        .init("--idle-timeout", "DUR", .limits, "close with 1001 after no message either way this long (default off)"),
        .init("--close-timeout", "DUR", .limits, "drop a peer that does not finish the closing handshake (default 5s)"),
        .init("--shutdown-timeout", "DUR", .limits,
              "on SIGINT/SIGTERM, wait this long for sessions to close (default 5s)"),

        .init("--ping-interval", "DUR", .keepalive, "ping a client silent this long (default 30s; 0 disables)"),
        .init("--ping-timeout", "DUR", .keepalive,
              "close with 1011 if nothing comes within this of a ping (default 10s)"),

        .init("--compression", nil, .compression,
              "offer permessage-deflate on every route (default off: it costs CPU\n"
                + "per message and up to 44 KiB per connection; see the README)"),
        .init("--compression-level", "N", .compression, "zlib level, 1 (fastest) to 9 (smallest) (default 6)"),
        .init("--compression-threshold", "SIZE", .compression,
              "send messages shorter than SIZE uncompressed; 0 compresses all\n(default 64)"),
        .init("--compression-window-bits", "N", .compression,
              "the window wsgate compresses with, 9 to 15 (default 15)"),
        .init("--compression-client-window-bits", "N", .compression,
              "the window asked of clients whose offer allows it, 9 to 15\n(default 15)"),
        .init("--compression-memory-level", "N", .compression,
              "zlib's memLevel for compressors, 1 to 9: lower costs less memory\n"
                + "per context-takeover connection (default 8)"),
        .init("--compression-context-takeover", nil, .compression,
              "keep wsgate's compression context between messages: smaller\n"
                + "messages, one deflate stream per connection (default off)"),
        .init("--compression-client-no-context-takeover", nil, .compression,
              "ask clients to reset their context after each message: no inflate\n"
                + "window kept per connection (default off)"),

        .init("--origin", "LIST", .security,
              "allowed Origins, comma-separated: host, host:port or\n"
                + "scheme://host[:port]; others get 403 (default any)", arity: .commaList),
        .init("--sameorigin", nil, .security, "only allow an Origin with the request's host and port; 403 otherwise"),
        .init("--auth", "KIND:ARG", .security,
              "who may connect, on every route: basic:HTPASSWD, bearer:TOKENS or\n"
                + "command:PROGRAM (exit 0 allows); 401/403 otherwise; SIGHUP re-reads"),
        .init("--header", "'NAME: VALUE'", .security, "add a header to every response (repeatable)",
              arity: .repeatable),
        .init("--header-ws", "'NAME: VALUE'", .security, "add a header to 101 responses only (repeatable)",
              arity: .repeatable),
        .init("--header-http", "'NAME: VALUE'", .security, "add a header to refusals only (repeatable)",
              arity: .repeatable),

        .init("--ssl", nil, .tls, "serve wss:// (TLS 1.2 and 1.3), with --sslcert and --sslkey;\n"
                + "the port defaults to 443; SIGHUP reloads the files"),
        .init("--sslcert", "FILE", .tls, "PEM certificate for --ssl, then any intermediates (a chain)"),
        .init("--sslkey", "FILE", .tls, "PEM private key of the --sslcert certificate"),
        .init("--sslca", "FILE", .tls,
              "mutual TLS: refuse clients without a certificate signed by a CA\nin FILE (PEM)"),

        .init("--redis", "URL", .scaling,
              "redis://[[user]:password@]host[:port][/db]: broadcast rooms\n"
                + "and fanout routes span every wsgate on that Redis (default off)"),
        .init("--redis-prefix", "PREFIX", .scaling, "start of every Redis channel name (default wsgate:)"),
        .init("--trust-proxy", "CIDRS", .scaling,
              "proxies (e.g. 10.0.0.0/8,::1) whose X-Forwarded-For / X-Real-IP give\n"
                + "REMOTE_ADDR and the logged client address (default none)", arity: .commaList),

        .init("--loglevel", "LEVEL", .logging,
              "debug, trace, access, info, error or fatal, most verbose first;\n"
                + "each shows its lines and those of the later levels (default access)"),
        .init("--log-stderr", nil, .logging,
              "log programs' stderr lines (level=stderr) when errors are logged;\n"
                + "--log-stderr=false drops them (default true)"),
        .init("--metrics", nil, .logging,
              "count and serve Prometheus metrics at GET /metrics (default off;\n"
                + "anyone who reaches the port can read them: see the README)"),
        .init("--metrics-path", "PATH", .logging, "serve --metrics at PATH instead of /metrics"),

        .init("--help", nil, .general, "this text", aliases: ["-h"]),
        .init("--version", nil, .general, "print the version"),
        .init("--license", nil, .general, "print the license"),

        .init("--redirport", "N", .unsupported, "redirect plain HTTP on port N to HTTPS (needs --ssl)"),
        .init("--reverselookup", nil, .unsupported,
              "REMOTE_HOST is the client's IP address, not a name (=false is fine)"),
    ]

    /// The switches, every spelling: they take no separate value.
    static let switches = Set(all.filter(\.isSwitch).flatMap(\.spellings))

    /// The flags that take a value, every spelling.
    static let valued = Set(all.filter { !$0.isSwitch }.flatMap(\.spellings))
}
