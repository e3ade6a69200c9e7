#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Random 4 KiB read and write IOPS through the block layer on a fully
# allocated qcow2 against raw, on the same filesystem, buffered and with
# O_DIRECT. Prints both figures and the ratio (goal: qcow2 >= 90% of raw).
#
#   tests/bench/bench_block_iops.sh [BUILD_DIR] [SIZE] [SECONDS] [WORK_DIR]
set -eu
BUILD=${1:-build}
SIZE=${2:-2G}
SECS=${3:-5}
W=${4:-/var/tmp/vireo-img-bench}
V=$(realpath "$BUILD/img/vireo-img")
B=$(realpath "$BUILD/tests/bench/bench_block_iops")
mkdir -p "$W"
cd "$W"
rm -f iops.raw iops.qcow2
"$V" create -q -f raw -o preallocation=full iops.raw "$SIZE"
"$V" create -q -f qcow2 -o preallocation=full iops.qcow2 "$SIZE"
sync
echo "random 4 KiB I/O, $SIZE images, ${SECS}s per run:"
for mode in buffered direct; do
	d=""
	[ $mode = direct ] && d=direct
	for op in read write; do
		for th in 1 2; do
			raw=$("$B" iops.raw $op "$SECS" $th $d | awk '{print $2}')
			q=$("$B" iops.qcow2 $op "$SECS" $th $d | awk '{print $2}')
			printf "%-8s %-5s %d thread(s): raw %8d IOPS   qcow2 %8d IOPS   qcow2/raw %5.1f%%\n" \
				$mode $op $th "$raw" "$q" "$(awk "BEGIN { print 100 * $q / $raw }")"
		done
	done
done
rm -f iops.raw iops.qcow2
