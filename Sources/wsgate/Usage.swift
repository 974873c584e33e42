let usage = """
    usage: wsgate [flags] --route PATH=HANDLER [--route PATH=HANDLER ...]

    Serves WebSocket endpoints. HANDLER is a built-in:
      echo        sends every message back
      broadcast   sends every message to every other client on the same path
    or [MODE:]COMMAND, a program with its arguments, in one of these modes:
      lines       (default) a process per connection; messages are stdin/stdout lines
      binary      a process per connection; bytes pass through both ways
      pty         a process per connection on a pseudo-terminal (each line flushed at once)
      shared      one process for the route; clients multiplexed with the shared line protocol
      shared-json one process for the route; the same protocol as JSON objects
      fanout      one process for the route; each stdout line goes to every client
    A PATH ending in /* matches every path below it: --route '/chat/*=broadcast'
    gives one broadcast room per path.
      wsgate --route '/chat/*=shared-json:./handlers/chat' --route '/clock=fanout:./handlers/clock'
      wsgate [flags] [MODE:]COMMAND [ARGS...]   websocketd's form: COMMAND on every path

    flags (--flag value or --flag=value; durations like 30s, 500ms, 2m; sizes like 1MiB, 64KiB):
      --route PATH=HANDLER      serve PATH with HANDLER (repeatable)
      --address ADDR            listen on ADDR (repeatable; default 0.0.0.0 and ::)
      --port N                  TCP port (default 8080; 0 picks a free one)
      --ping-interval DUR       ping a client silent this long (default 30s; 0 disables)
      --ping-timeout DUR        close with 1011 if nothing arrives this long after a ping (default 10s)
      --idle-timeout DUR        close with 1001 after no message either way this long (default off)
      --handshake-timeout DUR   close a connection whose request is not complete by then (default 10s)
      --close-timeout DUR       drop a peer that does not finish the closing handshake (default 5s)
      --shutdown-timeout DUR    on SIGINT/SIGTERM, wait this long for sessions to close (default 5s)
      --max-message-size SIZE   largest message accepted; larger closes with 1009 (default 1MiB)
      --max-queued-bytes SIZE   per-client send queue bound (default 1MiB)
      --max-connections N       beyond N connections, answer 503 (default 10000)
      --max-header-size SIZE    largest request head; larger gets 431 (default 16KiB)
      --subprotocol NAME        offer NAME as a subprotocol (repeatable, preferred first)
      --loglevel LEVEL          debug, trace, access, info, error or fatal (default access)
      --help                    this text
      --version                 the version

    """

let version = "wsgate 0.1.0"
