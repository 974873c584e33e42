#!/usr/bin/env bash
# --threads under ThreadSanitizer: builds wsgate with --sanitize=thread in a build folder of its own
# (.build-tsan) and runs the interop tests of several loops against it; fails on any report.
# TSan's runtime aborts in a child sharing the parent's memory, so a TSan build spawns programs
# with a copy of it instead (Sources/CGlibc/shim.c); a program that cannot start is then seen only
# by its exit status 127, which no test here relies on.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
swift build --sanitize=thread --scratch-path .build-tsan --product wsgate
reports=$(mktemp -d)
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 log_path=$reports/tsan suppressions=$PWD/Tests/Sanitizers/tsan.supp"
WSGATE_BIN=$PWD/.build-tsan/debug/wsgate "$PY" -m pytest -q Tests/Interop/test_threads.py
if ls "$reports"/tsan* >/dev/null 2>&1; then
    cat "$reports"/tsan*
    exit 1
fi
echo "ThreadSanitizer: no reports"
