#!/bin/sh
# Builds Vireo twice (gcc, and clang with AddressSanitizer + UndefinedBehaviorSanitizer)
# and runs the whole suite in both. Ends with one line:
#   "vireo tests: N passed, N failed, N skipped"
# VIREO_SKIP_SLOW=1 leaves out the slow real-guest suite.
set -u
cd "$(dirname "$0")/.."

suites="--suite unit --suite fuzz --suite integration"
[ "${VIREO_SKIP_SLOW:-0}" = 1 ] || suites="$suites --suite slow"

configure() { # dir, extra meson args...
	dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
	fi
	ninja -C "$dir"
}

status=0
configure build || status=1
CC=clang configure build-san -Db_sanitize=address,undefined -Db_lundef=false || status=1
if [ $status -ne 0 ]; then
	echo "vireo tests: 0 passed, 1 failed, 0 skipped (build failed)"
	exit 1
fi

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
# shellcheck disable=SC2086
meson test -C build --print-errorlogs --num-processes 2 $suites || status=1
# shellcheck disable=SC2086
meson test -C build-san --print-errorlogs --num-processes 2 $suites || status=1

/usr/bin/python3 scripts/summarize-tests.py build/meson-logs/testlog.json \
	build-san/meson-logs/testlog.json || status=1
exit $status
