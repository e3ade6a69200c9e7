#!/usr/bin/python3
"""Start-to-exit time of a VM: vireo-vmm vs QEMU (-M microvm and -M pc, -accel kvm).

Payloads: a minimal PVH ELF that exits at once, and testos `hello` (prints its banner
and powers off) as ELF (PVH entry) and bzImage. Each figure is the median wall time
from exec of the VMM to its exit, over RUNS runs (default 20; `--runs N`).
Goal (issue 2): at least 5x faster than QEMU microvm and under 10 ms.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import TESTOS, median_ms, qemu_cmd, ratio, table, vireo_cmd  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    payloads = [
        ("minimal PVH payload", os.path.join(TESTOS, "pvh-exit.elf"), "", 1),
        ("testos hello (ELF)", os.path.join(TESTOS, "testos.elf"), "hello", 0),
        ("testos hello (bzImage)", os.path.join(TESTOS, "testos.bzImage"), "hello", 0),
    ]
    rows = []
    for name, kernel, cmdline, status in payloads:
        ours = median_ms(vireo_cmd(kernel, cmdline), args.runs, status)
        # QEMU microvm boots an ELF through its PVH note; a bzImage through qboot.
        micro = median_ms(qemu_cmd("microvm", kernel, cmdline), args.runs, status)
        pc = median_ms(qemu_cmd("pc", kernel, cmdline), max(3, args.runs // 4), status)
        rows.append((name, f"{ours[0]:.1f}", f"{micro[0]:.1f}", ratio(ours[0], micro[0]),
                     f"{pc[0]:.0f}", ratio(ours[0], pc[0])))
    print(f"Start to guest exit, median of {args.runs} runs, ms (ratio: how many times faster vireo is)")
    table(("payload", "vireo-vmm", "qemu microvm", "ratio", "qemu pc", "ratio"), rows)


if __name__ == "__main__":
    main()
