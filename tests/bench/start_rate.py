#!/usr/bin/python3
"""VMs started and run to exit per second on this machine: vireo-vmm vs QEMU microvm.

One worker per host CPU starts a VM with the minimal PVH payload, waits for it to exit
and starts the next, for SECONDS seconds (default 5). Goal (issue 2): over 50 per
second on a 2-core machine (Firecracker publishes 5 per core per second).
"""
import argparse
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import TESTOS, qemu_cmd, ratio, table, vireo_cmd  # noqa: E402


def rate(cmd, seconds, workers):
    done = [0] * workers
    failed = [0] * workers
    stop = time.perf_counter() + seconds

    def work(i):
        while time.perf_counter() < stop:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            if p.returncode == 1:
                done[i] += 1
            else:
                failed[i] += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return sum(done) / elapsed, sum(failed)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    args = ap.parse_args()
    workers = os.cpu_count() or 1
    kernel = os.path.join(TESTOS, "pvh-exit.elf")
    ours, ours_failed = rate(vireo_cmd(kernel, mem=64), args.seconds, workers)
    theirs, theirs_failed = rate(qemu_cmd("microvm", kernel, mem=64), args.seconds, workers)
    print(f"VMs started and exited per second, {workers} workers, {args.seconds:.0f} s each")
    table(("vmm", "VMs/s", "failed runs", "ratio"),
          [("vireo-vmm", f"{ours:.1f}", ours_failed, ""),
           ("qemu microvm", f"{theirs:.1f}", theirs_failed, ratio(ours, theirs, higher_is_better=True))])


if __name__ == "__main__":
    main()
