#!/usr/bin/env bash
# Builds and runs the Swift test suites under sanitizers, each in a build folder of its own
# (.build-asan, .build-ubsan), so the plain .build is left alone. Exits non-zero when a build fails,
# a test fails, or a sanitizer reports (they are set to stop the process at the first report).
#
#   Tests/Sanitizers/run.sh [address] [undefined] [-- SWIFT-TEST-ARGUMENTS...]
#
# With no sanitizer named, both run. With no test arguments, every suite runs, the reactor's in a
# test process of its own as in Tests/run-all.sh; otherwise the arguments go to `swift test` as they
# are, e.g. `Tests/Sanitizers/run.sh address -- --filter WebSocketTests`.
#
# address: `swift build --sanitize=address`, AddressSanitizer and LeakSanitizer on the Swift and the C
#   code, the wsgate binary the end-to-end tests start included.
# undefined: swiftc refuses `-sanitize=undefined` on Linux ("unsupported option"), and Swift code does
#   not need it: overflow, bounds and exclusivity are checked at run time in every debug build. What
#   UBSan can check is the C code (CGlibc), so that target is compiled with -fsanitize=undefined and
#   every binary linked with clang's UBSan runtime from the toolchain.
set -euo pipefail
cd "$(dirname "$0")/../.."

sanitizers=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    case "$1" in
    address | undefined) sanitizers+=("$1") ;;
    *) echo "usage: $0 [address] [undefined] [-- SWIFT-TEST-ARGUMENTS...]" >&2; exit 2 ;;
    esac
    shift
done
[ $# -gt 0 ] && shift
[ ${#sanitizers[@]} -gt 0 ] || sanitizers=(address undefined)

# A crashed test process would wait for the Swift backtracer; the sanitizers print the stack themselves.
export SWIFT_BACKTRACE=enable=no
# Leaks in the toolchain's own libraries, not in wsgate (see the file).
export LSAN_OPTIONS="suppressions=$PWD/Tests/Sanitizers/lsan.supp:print_suppressions=0"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# These two measure resident memory (the gateway's growth during a flood must stay under 8 MiB).
# Under ASan that includes the quarantine of freed memory (256 MiB by default), redzones and shadow,
# so the bound means nothing there; the plain suite keeps them.
rss_tests='broadcastDropsSlowReaderWith1008|serverMemoryStaysBoundedWithFastProgramAndSlowClient'

run_suites() {
    local scratch=$1
    shift
    if [ $# -gt 0 ]; then
        swift test --skip-build --scratch-path "$scratch" "$@"
        return
    fi
    swift test --skip-build --scratch-path "$scratch" --filter ReactorTests
    if [ "$scratch" = .build-asan ]; then
        swift test --skip-build --scratch-path "$scratch" --skip ReactorTests --skip "$rss_tests"
    else
        swift test --skip-build --scratch-path "$scratch" --skip ReactorTests
    fi
}

for sanitizer in "${sanitizers[@]}"; do
    case "$sanitizer" in
    address)
        echo "== AddressSanitizer"
        swift build --build-tests --sanitize=address --scratch-path .build-asan
        run_suites .build-asan "$@"
        ;;
    undefined)
        echo "== UndefinedBehaviorSanitizer (C code)"
        # The toolchain's clang knows where its runtime is (/opt/swift/usr/lib/clang/21/lib/linux here).
        runtime=$(dirname "$(clang -print-file-name=libclang_rt.ubsan_standalone-x86_64.so)")
        swift build --build-tests --scratch-path .build-ubsan \
            -Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined \
            -Xlinker -L"$runtime" -Xlinker -rpath -Xlinker "$runtime" -Xlinker -lclang_rt.ubsan_standalone-x86_64
        run_suites .build-ubsan "$@"
        ;;
    esac
done
echo "== sanitizer runs passed: ${sanitizers[*]}"
