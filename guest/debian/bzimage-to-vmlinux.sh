#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# bzimage-to-vmlinux.sh BZIMAGE OUT
#
# Writes OUT: the uncompressed ELF vmlinux carried inside an x86 bzImage, and
# prints the kernel version string found in the bzImage's setup header.
#
# How: the x86 boot protocol header (Documentation/x86/boot.rst) tells where
# the compressed kernel lies. setup_sects (0x1f1) gives the size of the
# real-mode part; the protected-mode part starts at (setup_sects + 1) * 512.
# Since protocol 2.08, payload_offset (0x248) and payload_length (0x24c) give
# the compressed payload's place inside the protected-mode part. The payload's
# first bytes say which compressor made it; for every compressor but gzip the
# kernel build appends the uncompressed size as 4 little-endian bytes, which
# is checked against the result. The result must be an ELF64 x86-64 EXEC file.
#
# Exit status 0 on success; non-zero with a message on stderr otherwise (OUT
# is then left absent).
# "[ A ] && [ B ] || die" is used on purpose: die when either test fails.
# shellcheck disable=SC2015
set -eu

die() { echo "bzimage-to-vmlinux: $*" >&2; rm -f "$out.tmp"; exit 1; }

[ $# -eq 2 ] || { echo "usage: $0 BZIMAGE OUT" >&2; exit 2; }
in=$1
out=$2
[ -r "$in" ] || die "$in: cannot read"

# u8/u16/u32 OFFSET: little-endian unsigned integer at byte OFFSET of $in.
u8()  { od -An -tu1 -j $(($1)) -N1 "$in" | tr -d ' \n'; }
u16() { od -An -tu2 -j $(($1)) -N2 --endian=little "$in" | tr -d ' \n'; }
u32() { od -An -tu4 -j $(($1)) -N4 --endian=little "$in" | tr -d ' \n'; }
# bytes OFFSET COUNT: COUNT bytes of $in from OFFSET, as hex with no spaces.
bytes() { dd if="$in" bs=64 iflag=skip_bytes,count_bytes skip=$(($1)) count=$(($2)) status=none |
	od -An -tx1 | tr -d ' \n'; }

size=$(stat -c %s "$in")
[ "$size" -gt 1024 ] || die "$in: too small for a bzImage ($size bytes)"
[ "$(bytes 0x1fe 2)" = 55aa ] || die "$in: no 0x55AA boot signature at 0x1fe"
[ "$(bytes 0x202 4)" = 48647253 ] || die "$in: no \"HdrS\" setup header at 0x202"
version=$(u16 0x206)
[ "$version" -ge $((0x208)) ] ||
	die "$in: boot protocol $(printf %#x "$version") predates payload_offset (needs 2.08)"

setup_sects=$(u8 0x1f1)
[ "$setup_sects" -ne 0 ] || setup_sects=4   # boot.rst: 0 means 4
pm_start=$(( (setup_sects + 1) * 512 ))
payload_offset=$(u32 0x248)
payload_length=$(u32 0x24c)
start=$((pm_start + payload_offset))
[ "$payload_length" -gt 4 ] && [ $((start + payload_length)) -le "$size" ] ||
	die "$in: payload (offset $start, length $payload_length) lies outside the file ($size bytes)"

# Kernel version string: kernel_version (0x20e) points into the setup code,
# relative to 0x200.
kver_ptr=$(u16 0x20e)
kernel_version=""
if [ "$kver_ptr" -ne 0 ] && [ $((kver_ptr + 0x200)) -lt "$pm_start" ]; then
	kernel_version=$(dd if="$in" bs=256 iflag=skip_bytes,count_bytes \
		skip=$((kver_ptr + 0x200)) count=256 status=none | tr '\0' '\n' | head -n 1)
fi

magic=$(bytes "$start" 6)
# Which compressor; whether the build appended the uncompressed size.
case $magic in
fd377a585a00*) comp=xz;    decomp="xz -dc --single-stream"; sized=1 ;;
5d0000*)       comp=lzma;  decomp="xz -dc --format=lzma --single-stream"; sized=1 ;;
1f8b*)         comp=gzip;  decomp="gzip -dc"; sized=0 ;;
28b52ffd*)     comp=zstd;  decomp="zstd -dc -q"; sized=1 ;;
425a68*)       comp=bzip2; decomp="bzip2 -dc"; sized=1 ;;
*) die "$in: unknown compression (payload starts with $magic)" ;;
esac
command -v "${decomp%% *}" >/dev/null 2>&1 || die "$comp payload but no ${decomp%% *} installed"

clen=$payload_length
expect=""
if [ "$sized" = 1 ]; then
	expect=$(u32 $((start + payload_length - 4)))
	clen=$((payload_length - 4))
fi

rm -f "$out.tmp"
# gzip exits 2 for "trailing garbage ignored"; the ELF checks below judge the result.
set +e
dd if="$in" bs=1M iflag=skip_bytes,count_bytes skip="$start" count="$clen" status=none |
	$decomp >"$out.tmp"
rc=$?
set -e
if [ $rc -ne 0 ] && ! { [ "$comp" = gzip ] && [ $rc -eq 2 ]; }; then
	die "$comp decompression failed (exit $rc)"
fi

got=$(stat -c %s "$out.tmp")
[ -z "$expect" ] || [ "$got" -eq "$expect" ] ||
	die "decompressed $got bytes, the bzImage says $expect"

# ELF checks on the result: magic, class, data, type, machine.
hdr=$(od -An -tx1 -N20 "$out.tmp" | tr -d ' \n')
case $hdr in
7f454c46*) ;;
*) die "decompressed payload is not ELF (starts with ${hdr%"${hdr#????????}"})" ;;
esac
eh=$(LC_ALL=C readelf -h "$out.tmp") || die "readelf cannot read the result"
echo "$eh" | grep -Eq '^ *Class: +ELF64$' || die "result is not ELF64"
echo "$eh" | grep -Eq '^ *Data: +2.s complement, little endian$' || die "result is not little-endian"
echo "$eh" | grep -Eq '^ *Type: +EXEC ' || die "result is not an executable (EXEC) ELF"
echo "$eh" | grep -Eq '^ *Machine: +Advanced Micro Devices X86-64$' || die "result is not x86-64"
entry=$(echo "$eh" | sed -n 's/^ *Entry point address: *//p')
[ -n "$entry" ] && [ "$((entry))" -ne 0 ] || die "result has no entry point"

mv "$out.tmp" "$out"
echo "compression=$comp"
echo "entry=$entry"
echo "kernel_version=$kernel_version"
