#!/bin/sh
# Installs the Debian 12 packages that building, running and testing Vireo need.
# Does nothing (and needs no network) when they are all present already.
set -eu

PACKAGES="
  build-essential meson ninja-build pkg-config clang llvm libclang-rt-14-dev
  libjansson-dev libcmocka-dev libseccomp-dev
  zlib1g-dev libzstd-dev
  python3
  qemu-system-x86 qemu-utils
  busybox-static cpio zstd xz-utils binutils
"

missing=""
for p in $PACKAGES; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q || echo "install-deps: apt-get update failed, trying the cached lists" >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
