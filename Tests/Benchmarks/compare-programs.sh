#!/usr/bin/env bash
# Program handlers side by side: `wsgate cat` vs `websocketd cat`, same load generator (wsgate bench),
# one after the other in the same run. A benchmark, not a test.
#   - sessions/s: connect + handshake + spawn + one round trip + close, 16 at a time (--churn)
#   - messages/s through one cat per connection, 64 connections x 16 in flight x 32 B, with the CPU
#     per message of the gateway and its children together (children counted once reaped)
#   - PSS per idle program session (gateway + its cat), over IDLE sessions
# Needs: swift build -c release; apt-get install websocketd; .venv with websockets.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.build/release/wsgate
. Tests/Benchmarks/lib.sh
PY=${PYTHON:-.venv/bin/python}
DURATION=${DURATION:-5s}
PORT=${PORT:-19002}
IDLE=${IDLE:-200}
TICK=$(getconf CLK_TCK)
LOG=${LOG:-/tmp/wsgate-compare-programs.log}
: > "$LOG"
ulimit -n 65536 2>/dev/null || true

pss_kib() { awk '/^Pss:/ {s+=$2} END {print s+0}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
start_server() {
    case $1 in
    wsgate) $BIN --address 127.0.0.1 --port "$PORT" --loglevel error --ping-interval 0 cat 2>>"$LOG" & ;;
    websocketd) websocketd --address 127.0.0.1 --port "$PORT" --loglevel error cat >>"$LOG" 2>&1 & ;;  # it logs to stdout
    esac
    SERVER=$!
    wait_until_serving "ws://127.0.0.1:$PORT/"
}
field() { echo "$1" | sed "s/.*\"$2\":\([0-9.]*\).*/\1/"; }

run_case() {  # name server bench-args...
    local name=$1 server=$2; shift 2
    start_server "$server"
    local before after json timing bench_cpu
    sleep 0.3
    before=$(cpu_ticks_with_children "$SERVER")
    timing=$(mktemp)
    json=$( { TIMEFORMAT='%U %S'; time $BIN bench "ws://127.0.0.1:$PORT/" -d "$DURATION" --json "$@" 2>/dev/null; } 2>"$timing")
    bench_cpu=$(tail -n 1 "$timing" | awk '{print $1 + $2}'); rm -f "$timing"
    sleep 1.5  # the last sessions' children exit and are reaped, so their CPU is counted
    after=$(cpu_ticks_with_children "$SERVER")
    stop_server
    local completed per_second errors
    completed=$(field "$json" completed); per_second=$(field "$json" per_second)
    errors=$(echo "$json" | grep -o '"connection [0-9]*:' | wc -l || true)
    awk -v t=$((after - before)) -v n="$completed" -v hz="$TICK" -v b="$bench_cpu" -v r="$per_second" \
        -v name="$name" -v s="$server" -v e="$errors" -v p50="$(field "$json" p50)" -v p99="$(field "$json" p99)" \
        'BEGIN {printf "%-42s %-11s %9.0f /s  gateway+children %7.2f us CPU each  (load generator %.2f)  p50=%sus p99=%sus errors=%s\n", name, s, r, t*1e6/hz/n, b*1e6/n, p50, p99, e}'
}

idle_case() {
    local server=$1 count=$IDLE
    start_server "$server"
    sleep 0.5
    local before fifo holder after children
    before=$(pss_kib "$SERVER")
    fifo=$(mktemp -u); mkfifo "$fifo"
    $PY Tests/Benchmarks/idle.py "ws://127.0.0.1:$PORT/" "$count" < "$fifo" > "$fifo.out" &
    holder=$!
    exec 9>"$fifo"
    for _ in $(seq 600); do grep -q ready "$fifo.out" 2>/dev/null && break; sleep 0.1; done
    sleep 1
    after=$(pss_kib "$SERVER")
    children=$(for c in $(pgrep -P "$SERVER"); do pss_kib "$c"; done | awk '{s+=$1} END {print s+0}')
    local nchildren; nchildren=$(pgrep -P "$SERVER" | wc -l)
    exec 9>&-
    wait $holder || true
    rm -f "$fifo" "$fifo.out"
    stop_server
    awk -v a="$after" -v b="$before" -v c="$children" -v n="$count" -v k="$nchildren" -v s="$server" \
        'BEGIN {printf "%-42s %-11s %8.1f KiB PSS per session (gateway %.1f + children %.1f; %d children)\n", "idle program sessions, " n, s, (a-b+c)/n, (a-b)/n, c/n, k}'
}

SERVERS=${SERVERS:-"wsgate websocketd"}
for server in $SERVERS; do run_case "sessions: churn, 16 at a time, cat" "$server" -c 16 --churn -s 32; done
for server in $SERVERS; do run_case "messages via cat: 64 conns x 16, 32 B" "$server" -c 64 -p 16 -s 32; done
for server in $SERVERS; do idle_case "$server"; done
