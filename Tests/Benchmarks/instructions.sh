#!/usr/bin/env bash
# Instructions wsgate's server spends per message (per session for churn) in user space, counted by
# valgrind's callgrind over a fixed number of round trips after a warm-up: unlike CPU time, the
# figure does not move with the machine's load, so it shows a change of a few percent that
# workloads.sh cannot. A benchmark, not a test (CI does not run it). Kernel work is not counted.
#
#   Tests/Benchmarks/instructions.sh [SERVER_BIN]     (default .build/release/wsgate)
#   LOGLEVEL=error (access: the default, two lines per session)
#   WORKLOADS="pingpong big churn pipelined"  KEEP=DIR (keeps DIR/WORKLOAD.callgrind for
#   callgrind_annotate, and writes the top functions to DIR/WORKLOAD.txt)
# Needs: swift build -c release; apt-get install valgrind.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.build/release/wsgate
. Tests/Benchmarks/lib.sh
SERVER_BIN=${1:-$BIN}
PORT=${PORT:-19071}
WORKLOADS=${WORKLOADS:-"pingpong big churn pipelined"}
declare -A ARGS=(
    [pingpong]="-c 1 -p 1 -s 32"
    [big]="-c 8 -p 4 -s 64KiB --binary"
    [churn]="-c 16 --churn"
    [pipelined]="-c 64 -p 16 -s 32"
)
declare -A COUNT=([pingpong]=5000 [big]=2000 [churn]=1000 [pipelined]=50000)

for workload in $WORKLOADS; do
    dir=$(mktemp -d)
    valgrind --tool=callgrind --callgrind-out-file="$dir/out.%p" --dump-instr=no "$SERVER_BIN" \
        --address 127.0.0.1 --port "$PORT" --route /echo=echo --loglevel "${LOGLEVEL:-error}" 2>"$dir/valgrind.log" &
    server=$!
    WAIT_SECONDS=20 wait_until_serving "ws://127.0.0.1:$PORT/echo"  # valgrind starts slowly
    n=${COUNT[$workload]}
    # shellcheck disable=SC2086
    $BIN bench "ws://127.0.0.1:$PORT/echo" -n $((n / 10)) ${ARGS[$workload]} >/dev/null  # warm-up
    callgrind_control --zero "$server" >/dev/null
    # shellcheck disable=SC2086
    $BIN bench "ws://127.0.0.1:$PORT/echo" -n "$n" ${ARGS[$workload]} >/dev/null
    callgrind_control --dump "$server" >/dev/null
    sleep 0.5
    kill -TERM "$server"
    wait "$server" 2>/dev/null || true
    dump="$dir/out.$server.1"
    total=$(awk '/^summary:/ {print $2}' "$dump")
    unit=message; [ "$workload" = churn ] && unit=session
    awk -v t="$total" -v n="$n" -v w="$workload" -v u="$unit" \
        'BEGIN {printf "%-10s %8.0f instructions per %s (%d %ss)\n", w, t / n, u, n, u}'
    if [ -n "${KEEP:-}" ]; then
        mkdir -p "$KEEP"
        cp "$dump" "$KEEP/$workload.callgrind"
        callgrind_annotate --threshold=100 "$dump" 2>/dev/null | grep -E '^ *[0-9,]+ \(' \
            | grep -v '(100.0%)' | head -40 \
            > "$KEEP/$workload.txt" || true
    fi
    rm -rf "$dir"
done
