"""Shared pieces of the benchmarks: where things are, how to run each VMM, tables.

Benchmarks run our VMM and the peer side by side in one run on the same guest
payload and print both figures and their ratio. They are not tests.
"""
import os
import statistics
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "../.."))
BUILD = os.environ.get("VIREO_BUILD", os.path.join(SOURCE, "build"))
VMM = os.path.join(BUILD, "vmm", "vireo-vmm")
TESTOS = os.path.join(BUILD, "guest", "testos")
QEMU = "qemu-system-x86_64"


def vireo_cmd(kernel, cmdline="", mem=128, cpus=1, extra=()):
    return [VMM, "--kernel", kernel, "--cmdline", cmdline, "--mem", str(mem),
            "--cpus", str(cpus), "--serial", "stdio", "--log-level", "error", *extra]


def qemu_cmd(machine, kernel, cmdline="", mem=128, cpus=1, extra=()):
    """QEMU with KVM, no firmware devices beyond what MACHINE has, serial on stdio."""
    return [QEMU, "-M", machine, "-accel", "kvm", "-m", str(mem), "-smp", str(cpus),
            "-kernel", kernel, "-append", cmdline, "-nodefaults", "-no-user-config",
            "-display", "none", "-no-reboot", "-serial", "stdio", "-monitor", "none",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", *extra]


def time_run(cmd, timeout=120):
    """Wall time in ms from exec to exit, and the exit status."""
    t = time.perf_counter()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=timeout)
    return (time.perf_counter() - t) * 1000, p.returncode


def median_ms(cmd, runs, expect_status=None):
    samples = []
    for _ in range(runs):
        ms, status = time_run(cmd)
        if expect_status is not None and status != expect_status:
            raise RuntimeError(f"{cmd[0]} exited {status}, expected {expect_status}: {' '.join(cmd)}")
        samples.append(ms)
    return statistics.median(samples), min(samples), max(samples)


def table(headers, rows):
    widths = [max(len(str(r[i])) for r in [headers] + rows) for i in range(len(headers))]
    line = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths)))
    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


def ratio(ours, theirs, higher_is_better=False):
    """'3.2x' meaning how many times better we are."""
    if not ours or not theirs:
        return "-"
    return f"{(ours / theirs if higher_is_better else theirs / ours):.1f}x"
