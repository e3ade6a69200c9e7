#!/bin/sh
# Runs every benchmark under tests/bench/ (and each component's own) against the build in $1.
set -eu
cd "$(dirname "$0")/.."
export VIREO_BUILD="$(cd "${1:-build}" && pwd)"
for b in tests/bench/*.py; do
	case "$b" in */benchlib.py) continue ;; esac
	echo "== $b"
	/usr/bin/python3 "$b"
	echo
done
