#!/usr/bin/env bash
# Real-browser check, run by hand (Chromium is too heavy for CI): headless Chromium opens
# page.html, which exercises wsgate over WebSocket (echo up to 1 MiB, binary, UTF-8, broadcast,
# program routes, close codes) and reports each result back over a /report program route.
# Needs: swift build -c release; apt-get install chromium. Exits 1 if any check failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT=${PORT:-19010}
OUT=$(mktemp -d)
.build/release/wsgate --address 127.0.0.1 --port "$PORT" --route /echo=echo --route '/chat/*=broadcast' \
    --route '/count=./handlers/count --to 3 --pause 0.05' --route /fail=./handlers/fail \
    --route "/report=sh -c 'cat > $OUT/report.txt'" 2>"$OUT/wsgate.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; pkill -f "remote-debugging-port=9333" 2>/dev/null || true' EXIT
sleep 0.5
timeout 60 chromium --headless=new --no-sandbox --disable-gpu --remote-debugging-port=9333 \
    "file://$PWD/Tests/Browser/page.html#$PORT" >/dev/null 2>&1 &
for _ in $(seq 120); do [ -s "$OUT/report.txt" ] && break; sleep 0.5; done
sleep 0.5
[ -s "$OUT/report.txt" ] || { echo "no report from the browser (log: $OUT/wsgate.log)"; exit 1; }
cat "$OUT/report.txt"; echo
pass=$(grep -c '^PASS' "$OUT/report.txt" || true); fail=$(grep -c '^FAIL' "$OUT/report.txt" || true)
echo "browser: $pass passed, $fail failed"
[ "$fail" = 0 ]
