#!/usr/bin/env bash
# --threads under ThreadSanitizer: builds wsgate with --sanitize=thread in a build folder of its own
# (.build-tsan) and runs the interop tests of several loops against it; fails on any report.
# The --maxforks test is left out: TSan's runtime aborts in clone(CLONE_VFORK) (ChildProcess's
# spawn), a limit of the sanitizer, not a race; the other tests spawn nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
swift build --sanitize=thread --scratch-path .build-tsan --product wsgate
reports=$(mktemp -d)
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 log_path=$reports/tsan"
WSGATE_BIN=$PWD/.build-tsan/debug/wsgate "$PY" -m pytest -q Tests/Interop/test_threads.py -k "not maxforks"
if ls "$reports"/tsan* >/dev/null 2>&1; then
    cat "$reports"/tsan*
    exit 1
fi
echo "ThreadSanitizer: no reports"
