#!/usr/bin/env bash
# Soak: many program sessions through one wsgate, then nothing may be left behind.
#   Tests/Soak/programs.sh [SESSIONS] [CONCURRENCY]     (defaults: 100000 and 16; CI runs 2000)
# Each session: connect, handshake, spawn `cat`, one round trip, close (wsgate bench --churn).
# Afterwards wsgate must have no child (zombie or alive), as many descriptors open as after its
# first sessions, and a resident size within a few MiB of that baseline. Exits non-zero otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."
SESSIONS=${1:-100000}
CONCURRENCY=${2:-16}
BIN=${WSGATE_BIN:-.build/release/wsgate}
[ -x "$BIN" ] || BIN=.build/debug/wsgate
LOG=$(mktemp)
trap 'kill "$SERVER" 2>/dev/null || true; rm -f "$LOG"' EXIT

"$BIN" --address 127.0.0.1 --port 0 --loglevel info --ping-interval 0 --route /cat=cat 2>"$LOG" &
SERVER=$!
for _ in $(seq 100); do
    PORT=$(sed -n 's/.*event=server.listen address=[^ ]*:\([0-9]*\).*/\1/p' "$LOG" | head -1)
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "${PORT:-}" ] || { echo "soak: wsgate did not start"; cat "$LOG"; exit 1; }
URL="ws://127.0.0.1:$PORT/cat"

fds() { ls "/proc/$SERVER/fd" | wc -l; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER/status"; }
children() { cat /proc/"$SERVER"/task/*/children | wc -w; }

# Warm up (allocator, first spawns), then take the baseline.
"$BIN" bench "$URL" --churn -c "$CONCURRENCY" -n 200 >/dev/null
sleep 1
BASE_FDS=$(fds); BASE_RSS=$(rss)
START=$(date +%s.%N)
"$BIN" bench "$URL" --churn -c "$CONCURRENCY" -n "$SESSIONS"
END=$(date +%s.%N)
# Sessions end when their cat is reaped; give the last ones a moment.
for _ in $(seq 50); do [ "$(children)" -eq 0 ] && break; sleep 0.1; done
FDS=$(fds); RSS=$(rss); KIDS=$(children)
awk -v n="$SESSIONS" -v s="$START" -v e="$END" -v bf="$BASE_FDS" -v f="$FDS" -v br="$BASE_RSS" -v r="$RSS" -v k="$KIDS" \
    'BEGIN {printf "soak: %d sessions in %.1f s (%.0f/s); children left %d; descriptors %d -> %d; RSS %d -> %d KiB (%+d)\n", n, e-s, n/(e-s), k, bf, f, br, r, r-br}'
STATUS=0
[ "$KIDS" -eq 0 ] || { echo "soak: FAILED: $KIDS children left"; STATUS=1; }
[ "$FDS" -le "$BASE_FDS" ] || { echo "soak: FAILED: descriptors grew from $BASE_FDS to $FDS"; STATUS=1; }
[ $((RSS - BASE_RSS)) -le 8192 ] || { echo "soak: FAILED: RSS grew by more than 8 MiB"; STATUS=1; }
exit $STATUS
