#!/usr/bin/env bash
# The Autobahn|Testsuite fuzzing client against wsgate's echo with --compression: every case,
# 12.* and 13.* (permessage-deflate) included; the client offers compression only in those, so
# the others run uncompressed. CASES='12.*,13.*' runs a subset (comma-separated patterns).
# Run by hand: it takes several minutes and needs Python 2.7 (autobahntestsuite has no Python 3
# release); pyenv's 2.7 or a python2 on PATH. Exits 1 unless every case is OK or INFORMATIONAL.
# Reports: Tests/Autobahn/reports/index.html.
set -euo pipefail
cd "$(dirname "$0")"
if [ -z "${PY2:-}" ]; then
    for candidate in ~/.pyenv/versions/2.7*/bin/python python2 python2.7; do
        if "$candidate" -c 'import sys; sys.exit(sys.version_info[0] != 2)' 2>/dev/null; then PY2=$candidate; break; fi
    done
fi
[ -n "${PY2:-}" ] || { echo "needs Python 2.7 (set PY2=/path/to/python2.7)"; exit 2; }
if [ ! -x .venv27/bin/wstest ]; then
    "$PY2" -m virtualenv -q .venv27 2>/dev/null || { "$PY2" -m pip install -q virtualenv && "$PY2" -m virtualenv -q .venv27; }
    .venv27/bin/pip install -q autobahntestsuite
fi
(cd ../.. && swift build -c release --product wsgate)
../../.build/release/wsgate --address 127.0.0.1 --port 9001 --route /echo=echo --max-message-size 64MiB \
    --max-queued-bytes 64MiB --loglevel error --compression &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
sleep 0.5
rm -rf reports
python3 - "${CASES:-*}" > fuzzingclient.run.json <<'PY'
import json, sys
config = json.load(open("fuzzingclient.json"))
config["cases"] = sys.argv[1].split(",")
print(json.dumps(config))
PY
.venv27/bin/wstest -m fuzzingclient -s fuzzingclient.run.json > wstest.log 2>&1
python3 - <<'PY'
import json, collections, sys
results = json.load(open("reports/index.json"))["wsgate"]
counts = collections.Counter()
bad = []
for case, r in results.items():
    counts[r["behavior"]] += 1
    if r["behavior"] not in ("OK", "INFORMATIONAL") or r["behaviorClose"] not in ("OK", "INFORMATIONAL"):
        bad.append(f"{case}: {r['behavior']} / close {r['behaviorClose']}")
print(f"autobahn: {len(results)} cases: " + ", ".join(f"{n} {b}" for b, n in counts.most_common()))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
