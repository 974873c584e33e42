#!/usr/bin/env bash
# wss:// beside ws:// on the same wsgate build and the same load generator (wsgate bench): echo
# throughput and the server's CPU per message (user+system from /proc), TLS handshakes per second
# (bench --churn), and RSS per idle connection over 1,000 connections. A benchmark, not a test.
# Needs: swift build -c release --product wsgate; .venv with websockets; the openssl command.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.build/release/wsgate
. Tests/Benchmarks/lib.sh
PY=${PYTHON:-.venv/bin/python}
DURATION=${DURATION:-5s}
PORT=${PORT:-19443}
TICK=$(getconf CLK_TCK)
ulimit -n 65536 2>/dev/null || true
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -keyout "$DIR/key.pem" \
    -out "$DIR/cert.pem" -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null

start_server() {  # ws|wss
    local tls=()
    [ "$1" = wss ] && tls=(--ssl --sslcert "$DIR/cert.pem" --sslkey "$DIR/key.pem")
    $BIN --address 127.0.0.1 --port "$PORT" --route /echo=echo --loglevel error --ping-interval 0 \
        --max-message-size 16MiB "${tls[@]}" 2>>/tmp/wsgate-tls-bench.log &
    SERVER=$!
    wait_until_serving "$1://127.0.0.1:$PORT/echo" --cacert "$DIR/cert.pem"
}
run_case() {  # name scheme bench-args...
    local name=$1 scheme=$2; shift 2
    start_server "$scheme"
    local before after json completed per_second
    before=$(cpu_ticks "$SERVER")
    json=$($BIN bench --cacert "$DIR/cert.pem" "$scheme://127.0.0.1:$PORT/echo" -d "$DURATION" --json "$@" 2>/dev/null)
    after=$(cpu_ticks "$SERVER")
    stop_server
    completed=$(echo "$json" | sed 's/.*"completed":\([0-9]*\).*/\1/')
    per_second=$(echo "$json" | sed 's/.*"per_second":\([0-9.]*\).*/\1/')
    awk -v t=$((after - before)) -v n="$completed" -v hz="$TICK" -v r="$per_second" -v name="$name" -v s="$scheme" \
        'BEGIN {printf "%-36s %-4s %10.0f /s  server %8.2f us CPU each\n", name, s, r, t * 1e6 / hz / n}'
}
idle_case() {  # scheme
    local count=${IDLE:-1000}
    start_server "$1"
    local before after fifo
    before=$(rss_kib "$SERVER")
    fifo=$(mktemp -u); mkfifo "$fifo"
    CAFILE="$DIR/cert.pem" $PY Tests/Benchmarks/idle.py "$1://localhost:$PORT/echo" "$count" < "$fifo" > "$fifo.out" &
    local holder=$!
    exec 9>"$fifo"
    for _ in $(seq 600); do grep -q ready "$fifo.out" 2>/dev/null && break; sleep 0.1; done
    sleep 0.5
    after=$(rss_kib "$SERVER")
    exec 9>&-
    wait $holder || true
    rm -f "$fifo" "$fifo.out"
    stop_server
    awk -v a="$after" -v b="$before" -v n="$count" -v s="$1" \
        'BEGIN {printf "%-36s %-4s %8.2f KiB RSS/conn\n", "idle memory, " n " connections", s, (a-b)/n}'
}

for scheme in ws wss; do run_case "64 conns x 16 in flight, 32 B" "$scheme" -c 64 -p 16 -s 32; done
for scheme in ws wss; do run_case "8 conns x 4 in flight, 64 KiB bin" "$scheme" -c 8 -p 4 -s 64KiB --binary; done
for scheme in ws wss; do run_case "handshakes (churn, 8 conns)" "$scheme" -c 8 --churn; done
for scheme in ws wss; do idle_case "$scheme"; done
