#!/bin/sh
# Runs every libFuzzer target for FUZZ_SECONDS (default 60) on a copy of its
# corpus, then merges what found new coverage back into tests/fuzz/corpus/.
# Crashes are left as crash-* files in build-fuzz/runs/ with the fuzzer's log.
set -eu
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
if [ ! -f build-fuzz/build.ninja ]; then
	CC=clang meson setup build-fuzz -Dfuzzers=true -Db_sanitize=address,undefined \
		-Db_lundef=false >/dev/null
fi
ninja -C build-fuzz
runs=build-fuzz/runs
mkdir -p "$runs"
status=0
for fuzzer in build-fuzz/tests/fuzz/fuzz_*; do
	[ -x "$fuzzer" ] || continue
	name=${fuzzer##*/fuzz_}
	rm -rf "$runs/$name" "$runs/new_$name"
	cp -r "tests/fuzz/corpus/$name" "$runs/$name"
	echo "fuzzing $name for ${seconds}s"
	if ! (cd "$runs" && "../../$fuzzer" "$name" -max_total_time="$seconds" -max_len=65536 \
		>"$name.log" 2>&1); then
		echo "  $name: crash, see $runs/$name.log"
		status=1
	fi
	mkdir -p "$runs/new_$name"
	"$fuzzer" -merge=1 "$runs/new_$name" "tests/fuzz/corpus/$name" "$runs/$name" >/dev/null 2>&1 || true
	cp -n "$runs/new_$name"/* "tests/fuzz/corpus/$name/" 2>/dev/null || true
done
exit $status
