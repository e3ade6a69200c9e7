#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# build-debian-guest.sh OUTDIR
#
# Builds Vireo's "real guest" from Debian 12 packages only (see
# guest/debian/README.md) and writes into OUTDIR:
#   vmlinuz            Debian's kernel bzImage (linux-image-amd64's image package)
#   vmlinux            the uncompressed ELF vmlinux taken out of that bzImage
#   initramfs.cpio.gz  busybox-static + the kernel's virtio modules + guest/debian/init
#   manifest.txt       packages and versions used, kernel version, modules, sha256s
#
# Idempotent: does nothing when OUTDIR/manifest.txt matches the current
# candidate package versions and this script's inputs, and every artifact still
# has the sha256 the manifest records. Concurrent runs on one OUTDIR serialize
# on OUTDIR/.lock. Downloaded .debs are kept in VIREO_DEB_CACHE (default
# <repo>/.cache/debian-guest/debs), checked against apt's SHA256 before use.
# The host's installed packages are never changed (the kernel is not installed).
#
# Environment: VIREO_DEB_CACHE as above; SOURCE_DATE_EPOCH (default 0) sets
# the file times inside the initramfs, which is byte-for-byte reproducible.
# "[ A ] && [ B ] || die" is used on purpose: die when either test fails.
# shellcheck disable=SC2015
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
guestdir=$repo/guest/debian

log() { echo "build-debian-guest: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
outdir=$1
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
debcache=${VIREO_DEB_CACHE:-$repo/.cache/debian-guest/debs}
mkdir -p "$debcache"
epoch=${SOURCE_DATE_EPOCH:-0}

# Modules wanted in the initramfs; their dependencies (from each module's
# .modinfo "depends=") are added and everything is put in dependency order.
WANT_MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
	virtio_blk failover net_failover virtio_net virtio_console virtio_rng virtio_mmio"

for tool in apt-cache apt-get dpkg-deb objcopy readelf cpio gzip xz sha256sum flock od dd; do
	command -v "$tool" >/dev/null || die "$tool not found (run scripts/install-deps.sh)"
done

exec 9>"$outdir/.lock"
flock 9

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
apt_updated=0

# apt-cache is slow here (about 1.5 s a call when apt keeps no pkgcache.bin),
# so the candidate records are fetched once per package into $aptinfo.
aptinfo=$(mktemp "${TMPDIR:-/tmp}/vireo-apt.XXXXXX")
trap 'rm -f "$aptinfo"' EXIT

# pkg_field PKG FIELD: FIELD of PKG's candidate version, from $aptinfo.
pkg_field() {
	awk -v p="$1" -v f="$2" '
		/^Package: / { cur = substr($0, 10) }
		cur == p && index($0, f ": ") == 1 { print substr($0, length(f) + 3); exit }
	' "$aptinfo"
}

# pkg_resolve PKG...: adds the candidate records of PKGs to $aptinfo; fails
# unless apt can download them all (a package that is installed but absent
# from the apt lists has a record with no SHA256). Runs apt-get update once,
# when it cannot.
pkg_resolve() {
	local p missing=""
	for p in "$@"; do
		[ -n "$(pkg_field "$p" SHA256)" ] || missing="$missing $p"
	done
	[ -n "$missing" ] || return 0
	# shellcheck disable=SC2086
	apt-cache show --no-all-versions $missing >>"$aptinfo" 2>/dev/null || true
	for p in $missing; do
		[ -n "$(pkg_field "$p" SHA256)" ] && continue
		[ $apt_updated = 0 ] || { log "apt cannot download $p"; return 1; }
		log "apt cannot download $p: running apt-get update"
		$SUDO apt-get update -q >&2 || log "apt-get update failed"
		apt_updated=1
		: >"$aptinfo"
		pkg_resolve "$@"
		return
	done
	return 0
}

# The concrete image package that linux-image-amd64 depends on.
resolve_packages() {
	pkg_resolve linux-image-amd64 busybox-static || return 1
	kpkg=$(pkg_field linux-image-amd64 Depends | tr ',' '\n' |
		sed -n 's/^ *\(linux-image-[0-9][^ ]*-amd64\)\( .*\)\{0,1\}$/\1/p' | head -n 1)
	[ -n "$kpkg" ] || { log "cannot find the image package in linux-image-amd64's Depends"; return 1; }
	pkg_resolve "$kpkg" || return 1
	kver_pkg=$(pkg_field "$kpkg" Version)
	bb_ver=$(pkg_field busybox-static Version)
	meta_ver=$(pkg_field linux-image-amd64 Version)
}

# What the artifacts are made from besides the packages: the files of this build.
inputs_sum() {
	cat "$here/build-debian-guest.sh" "$guestdir/init" "$guestdir/bzimage-to-vmlinux.sh" |
		sha256sum | cut -d' ' -f1
}

# up_to_date: whether OUTDIR holds artifacts built from these packages and inputs.
up_to_date() {
	local m=$outdir/manifest.txt f want got
	[ -f "$m" ] || return 1
	grep -qx "package linux-image-amd64 $meta_ver" "$m" || return 1
	grep -qx "package $kpkg $kver_pkg" "$m" || return 1
	grep -qx "package busybox-static $bb_ver" "$m" || return 1
	grep -qx "inputs $(inputs_sum)" "$m" || return 1
	for f in vmlinuz vmlinux initramfs.cpio.gz; do
		want=$(sed -n "s/^sha256 $f //p" "$m")
		[ -n "$want" ] && [ -f "$outdir/$f" ] || return 1
		got=$(sha256sum "$outdir/$f" | cut -d' ' -f1)
		[ "$got" = "$want" ] || return 1
	done
	return 0
}

# fetch_deb PKG: prints the path of PKG's candidate .deb in the cache,
# downloading it with apt-get download unless a copy with apt's SHA256 is there.
fetch_deb() {
	local pkg=$1 name sha path tmp
	name=$(basename "$(pkg_field "$pkg" Filename)")
	sha=$(pkg_field "$pkg" SHA256)
	[ -n "$name" ] && [ -n "$sha" ] || die "apt has no Filename/SHA256 for $pkg"
	path=$debcache/$name
	if [ -f "$path" ] && [ "$(sha256sum "$path" | cut -d' ' -f1)" = "$sha" ]; then
		echo "$path"
		return
	fi
	tmp=$(mktemp -d "$debcache/dl.XXXXXX")
	# As root, apt downloads as the user _apt, which must be able to write here.
	if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$tmp"; fi
	log "downloading $pkg"
	(cd "$tmp" && apt-get download -q "$pkg=$(pkg_field "$pkg" Version)" >&2) ||
		{ rm -rf "$tmp"; die "apt-get download $pkg failed"; }
	set -- "$tmp"/*.deb
	[ $# -eq 1 ] && [ -f "$1" ] || { rm -rf "$tmp"; die "apt-get download $pkg gave no single .deb"; }
	[ "$(sha256sum "$1" | cut -d' ' -f1)" = "$sha" ] ||
		{ rm -rf "$tmp"; die "$pkg: downloaded .deb does not have apt's SHA256"; }
	mv "$1" "$path"
	rm -rf "$tmp"
	echo "$path"
}

if ! resolve_packages; then
	if [ -f "$outdir/manifest.txt" ]; then
		log "warning: apt cannot resolve the packages; keeping the existing $outdir"
		exit 0
	fi
	die "apt cannot resolve linux-image-amd64 / busybox-static"
fi

if up_to_date; then
	log "$outdir is up to date ($kpkg $kver_pkg)"
	exit 0
fi

t0=$(date +%s.%N)
work=$(mktemp -d "${TMPDIR:-/tmp}/vireo-debian-guest.XXXXXX")
trap 'rm -rf "$work" "$aptinfo"' EXIT

kdeb=$(fetch_deb "$kpkg")
bbdeb=$(fetch_deb busybox-static)
t_dl=$(date +%s.%N)

log "unpacking $(basename "$kdeb")"
dpkg-deb -x "$kdeb" "$work/k"
dpkg-deb -x "$bbdeb" "$work/bb"

set -- "$work"/k/boot/vmlinuz-*
[ $# -eq 1 ] && [ -f "$1" ] || die "$kpkg has no single /boot/vmlinuz-*"
bzimage=$1
kver=${bzimage##*/vmlinuz-}
moddir=$work/k/lib/modules/$kver
[ -d "$moddir" ] || die "$kpkg has no /lib/modules/$kver"
kconfig=$work/k/boot/config-$kver
[ -f "$kconfig" ] || die "$kpkg has no /boot/config-$kver"
busybox=$work/bb/bin/busybox
[ -x "$busybox" ] || die "busybox-static has no /bin/busybox"

# The kernel must be able to unpack a gzip initramfs and have devtmpfs.
for opt in CONFIG_BLK_DEV_INITRD CONFIG_RD_GZIP CONFIG_DEVTMPFS CONFIG_SERIAL_8250_CONSOLE; do
	grep -qx "$opt=y" "$kconfig" || die "kernel config lacks $opt=y"
done

log "extracting vmlinux"
"$guestdir/bzimage-to-vmlinux.sh" "$bzimage" "$work/vmlinux" >"$work/vmlinux.info"
compression=$(sed -n 's/^compression=//p' "$work/vmlinux.info")
kernel_version=$(sed -n 's/^kernel_version=//p' "$work/vmlinux.info")
case $kernel_version in
"$kver "*) ;;
*) die "bzImage reports version '$kernel_version', package has $kver" ;;
esac
grep -aqF "Linux version $kver " "$work/vmlinux" || die "vmlinux does not contain 'Linux version $kver'"

# Module index: name (with '-' as '_', as the kernel names modules) -> file.
(cd "$moddir" && find kernel -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz') |
	while read -r f; do
		n=${f##*/}; n=${n%%.ko*}; echo "${n//-/_} $f"
	done >"$work/modindex"

# modinfo_field FILE FIELD: a field of an uncompressed module's .modinfo section.
modinfo_field() {
	objcopy -O binary --only-section=.modinfo "$1" "$work/modinfo.bin" 2>/dev/null ||
		die "cannot read .modinfo of $1"
	tr '\0' '\n' <"$work/modinfo.bin" | sed -n "s/^$2=//p" | head -n 1
}

# The state of a module in this kernel's config: m, y (built in) or absent.
builtin_list=$moddir/modules.builtin
mkdir -p "$work/mods"
order=()
declare -A state=()   # name -> visiting | done
# add_module NAME: stages NAME (decompressed) after its dependencies.
add_module() {
	local name=$1 file path dep deps
	case ${state[$name]:-} in
	done) return ;;
	visiting) die "module dependency cycle through $name" ;;
	esac
	state[$name]=visiting
	file=$(awk -v n="$name" '$1 == n { print $2; exit }' "$work/modindex")
	if [ -z "$file" ]; then
		if [ -f "$builtin_list" ] && sed 's,.*/,,; s,\.ko$,,; s,-,_,g' "$builtin_list" | grep -qx "$name"; then
			log "module $name is built into this kernel"
			state[$name]="done"
			echo "$name" >>"$work/builtin"
			return
		fi
		die "module $name is neither a module nor built into $kver"
	fi
	path=$work/mods/$name.ko
	case $file in
	*.ko)    cp "$moddir/$file" "$path" ;;
	*.ko.xz) xz -dc "$moddir/$file" >"$path" ;;
	*.ko.zst) zstd -dcq "$moddir/$file" >"$path" ;;
	*.ko.gz) gzip -dc "$moddir/$file" >"$path" ;;
	esac
	[ "$(modinfo_field "$path" name)" = "$name" ] || die "$file does not say name=$name"
	case $(modinfo_field "$path" vermagic) in
	"$kver "*) ;;
	*) die "$file was not built for $kver" ;;
	esac
	deps=$(modinfo_field "$path" depends)
	for dep in ${deps//,/ }; do
		add_module "$dep"
	done
	order+=("$name")
	state[$name]="done"
}
: >"$work/builtin"
for m in $WANT_MODULES; do
	add_module "$m"
done

log "building the initramfs (${#order[@]} modules)"
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc} "$root/lib/modules/$kver"
cp "$busybox" "$root/bin/busybox"
install -m 0755 "$guestdir/init" "$root/init"
for m in "${order[@]}"; do
	cp "$work/mods/$m.ko" "$root/lib/modules/$kver/$m.ko"
done
printf '%s\n' "${order[@]}" >"$root/lib/modules/$kver/vireo-load-order"
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"
chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/lib/modules/$kver"/*
chmod 0755 "$root/bin/busybox"
find "$root" -exec touch -h -d "@$epoch" {} +
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9 -n >"$work/initramfs.cpio.gz"

cp "$bzimage" "$work/vmlinuz"
rm -f "$outdir/manifest.txt"
for f in vmlinuz vmlinux initramfs.cpio.gz; do
	chmod 0644 "$work/$f"
	mv "$work/$f" "$outdir/$f"
done

# Older versions' .debs are of no further use: keep only the ones just used.
for f in "$debcache"/linux-image-*.deb "$debcache"/busybox-static_*.deb; do
	[ -f "$f" ] && [ "$f" != "$kdeb" ] && [ "$f" != "$bbdeb" ] && rm -f "$f"
done

t1=$(date +%s.%N)
{
	echo "# Vireo Debian guest, built by scripts/build-debian-guest.sh"
	echo "package linux-image-amd64 $meta_ver"
	echo "package $kpkg $kver_pkg"
	echo "package busybox-static $bb_ver"
	echo "kernel $kver"
	echo "kernel_version $kernel_version"
	echo "compression $compression"
	echo "entry $(sed -n 's/^entry=//p' "$work/vmlinux.info")"
	echo "modules ${order[*]}"
	[ ! -s "$work/builtin" ] || echo "builtin $(tr '\n' ' ' <"$work/builtin")"
	echo "cmdline console=ttyS0 reboot=k panic=-1"
	echo "inputs $(inputs_sum)"
	for f in vmlinuz vmlinux initramfs.cpio.gz; do
		echo "size $f $(stat -c %s "$outdir/$f")"
	done
	for f in vmlinuz vmlinux initramfs.cpio.gz; do
		echo "sha256 $f $(sha256sum "$outdir/$f" | cut -d' ' -f1)"
	done
} >"$outdir/manifest.txt.tmp"
mv "$outdir/manifest.txt.tmp" "$outdir/manifest.txt"
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
log "built $outdir for $kver in $(secs "$t0" "$t1") s (download $(secs "$t0" "$t_dl") s)"
