#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# vireo-img convert against qemu-img convert, side by side in one run, on the
# same files: qcow2 -> raw, raw -> qcow2, streamOptimized VMDK -> qcow2,
# qcow2 -> qcow2 with compression. Prints both times and the ratio
# (qemu-img time / vireo-img time: above 1 means vireo-img is faster).
#
#   tests/bench/bench_img_convert.sh [BUILD_DIR] [SIZE_GIB] [WORK_DIR]
#
# The source disk is SIZE_GIB (default 4) with 5/8 of it data (half random,
# half compressible text, some zero runs) and the rest holes. Each convert
# runs twice per tool (alternating); the best time counts.
set -eu
BUILD=${1:-build}
GIB=${2:-4}
W=${3:-/var/tmp/vireo-img-bench}
V=$(realpath "$BUILD/img/vireo-img")
mkdir -p "$W"
cd "$W"

if [ ! -f src.raw ] || [ "$(stat -c %s src.raw)" -ne $((GIB << 30)) ]; then
	echo "preparing a ${GIB} GiB source disk in $W ..."
	rm -f src.* chunk
	dd if=/dev/urandom of=chunk bs=1M count=24 status=none
	yes "vireo benchmark text block, quite compressible, line after line" | head -c $((24 << 20)) >> chunk
	dd if=/dev/zero bs=1M count=16 status=none >> chunk
	truncate -s $((GIB << 30)) src.raw
	slots=$((GIB * 16))
	i=0
	while [ $i -lt $slots ]; do
		if [ $((i % 8)) -lt 5 ]; then
			dd if=chunk of=src.raw bs=64M seek=$i conv=notrunc status=none
		fi
		i=$((i + 1))
	done
	rm -f chunk
	qemu-img convert -O qcow2 src.raw src.qcow2
	qemu-img convert -O vmdk -o subformat=streamOptimized src.raw src.vmdk
fi

now() { date +%s.%N; }

# run LABEL TOOL ARGS... : prints the seconds taken
timeit() {
	out=$1
	shift
	rm -f "$out"
	sync
	t0=$(now)
	"$@" >/dev/null
	t1=$(now)
	awk "BEGIN { print $t1 - $t0 }"
}

best() { # a b
	awk "BEGIN { print ($1 < $2) ? $1 : $2 }"
}

bench() { # label outfile args...
	label=$1
	out=$2
	shift 2
	q1=$(timeit "$out" qemu-img convert "$@" "$out")
	v1=$(timeit "$out" "$V" convert "$@" "$out")
	q2=$(timeit "$out" qemu-img convert "$@" "$out")
	v2=$(timeit "$out" "$V" convert "$@" "$out")
	qb=$(best "$q1" "$q2")
	vb=$(best "$v1" "$v2")
	printf "%-34s qemu-img %7.2f s   vireo-img %7.2f s   ratio %.2f\n" "$label" "$qb" "$vb" \
		"$(awk "BEGIN { print $qb / $vb }")"
	rm -f "$out"
}

echo "convert, ${GIB} GiB disk ($(nproc) CPUs), best of 2 runs each:"
bench "qcow2 -> raw" out.raw -O raw src.qcow2
bench "raw -> qcow2" out.qcow2 -O qcow2 src.raw
bench "streamOptimized vmdk -> qcow2" out.qcow2 -O qcow2 src.vmdk
bench "qcow2 -> qcow2 compressed (zlib)" out.qcow2 -c -O qcow2 src.qcow2
