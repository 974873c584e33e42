#!/usr/bin/env bash
# permessage-deflate figures: the 64x16 echo load from `wsgate bench` (text of "x" repeated, so
# very compressible) against wsgate with compression off and on, and node ws with perMessageDeflate
# on, one after the other in the same run. Prints messages/s, the server's CPU per message (user +
# system from /proc/PID/stat) and wire bytes per round trip (the load generator's socket bytes,
# read + written, frame headers included, over round trips: one message each way). A benchmark,
# not a test.
# Needs: swift build -c release --product wsgate; apt-get install node-ws.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.build/release/wsgate
. Tests/Benchmarks/lib.sh
DURATION=${DURATION:-5s}
PORT=${PORT:-19021}
TICK=$(getconf CLK_TCK)
LOG=${LOG:-/tmp/wsgate-compare-deflate.log}
: > "$LOG"


run_case() {  # label server-command... -- bench-args...
    local label=$1; shift
    local server_args=() bench_args=()
    while [ "$1" != "--" ]; do server_args+=("$1"); shift; done
    shift; bench_args=("$@")
    "${server_args[@]}" 2>>"$LOG" &
    local server=$!
    wait_until_serving "ws://127.0.0.1:$PORT/echo"
    local cpu0 json cpu1 wire
    cpu0=$(cpu_ticks $server)
    json=$($BIN bench "ws://127.0.0.1:$PORT/echo" -d "$DURATION" --json "${bench_args[@]}")
    cpu1=$(cpu_ticks $server)
    kill $server; wait $server 2>/dev/null || true
    local completed per_second
    completed=$(echo "$json" | sed 's/.*"completed":\([0-9]*\).*/\1/')
    per_second=$(echo "$json" | sed 's/.*"per_second":\([0-9.]*\).*/\1/')
    wire=$(echo "$json" | sed 's/.*"wire_bytes":\([0-9]*\).*/\1/')
    awk -v l="$label" -v r="$per_second" -v t=$((cpu1 - cpu0)) -v hz="$TICK" -v n="$completed" -v b="$wire" \
        'BEGIN {printf "%-52s %9.0f msg/s  %6.2f us CPU/msg  %7.1f wire bytes/round trip\n", l, r, t * 1e6 / hz / n, b / n}'
}

WSGATE=($BIN --address 127.0.0.1 --port "$PORT" --route /echo=echo --loglevel error --ping-interval 0)
NODE=(node Tests/Benchmarks/node-ws-deflate-echo.js "$PORT")
for size in ${SIZES:-32 1024}; do
    load=(-c 64 -p 16 -s "$size")
    run_case "wsgate, compression off, ${size} B" "${WSGATE[@]}" -- "${load[@]}"
    run_case "wsgate --compression, client compresses, ${size} B" "${WSGATE[@]}" --compression -- "${load[@]}" --compression
    run_case "node ws perMessageDeflate, client compresses, ${size} B" "${NODE[@]}" -- "${load[@]}" --compression
done
