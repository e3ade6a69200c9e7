#!/usr/bin/python3
"""Memory the VMM process itself uses for an idle 128 MiB guest, guest RAM excluded.

Both VMMs keep guest RAM in a memfd (QEMU: memory-backend-memfd), so the VMM's own
memory is its anonymous and file-backed resident pages (RssAnon + RssFile) and guest
RAM is RssShmem. The guest is testos `counter` (idle between prints). Figures are read
after SETTLE seconds. Goal (issue 2): under 3 MiB (QEMU here: about 40 MiB;
Firecracker publishes 2.5-5 MiB).
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import TESTOS, qemu_cmd, ratio, table, vireo_cmd  # noqa: E402

SETTLE = 2.0


def rss_kib(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile", "RssShmem"):
                fields[key] = int(value.split()[0])
    return fields


def measure(cmd):
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        time.sleep(SETTLE)
        if p.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited early with {p.returncode}")
        return rss_kib(p.pid)
    finally:
        p.kill()
        p.wait()


def main():
    kernel = os.path.join(TESTOS, "testos.elf")
    ours = measure(vireo_cmd(kernel, "counter"))
    theirs = measure(qemu_cmd("microvm", kernel, "counter", extra=(
        "-object", "memory-backend-memfd,id=ram,size=128M", "-machine", "memory-backend=ram")))
    pc = measure(qemu_cmd("pc", kernel, "counter", extra=(
        "-object", "memory-backend-memfd,id=ram,size=128M", "-machine", "memory-backend=ram")))
    rows = []
    for name, r in (("vireo-vmm", ours), ("qemu microvm", theirs), ("qemu pc", pc)):
        own = r["RssAnon"] + r["RssFile"]
        rows.append((name, f"{own / 1024:.1f}", f"{r['RssAnon'] / 1024:.1f}",
                     f"{r['RssFile'] / 1024:.1f}", f"{r['RssShmem'] / 1024:.1f}",
                     ratio(ours["RssAnon"] + ours["RssFile"], own) if name != "vireo-vmm" else ""))
    print("VMM memory overhead for an idle 128 MiB guest (testos counter), MiB")
    table(("vmm", "own (anon+file)", "anon", "file", "guest RAM touched", "vireo uses less by"), rows)


if __name__ == "__main__":
    main()
