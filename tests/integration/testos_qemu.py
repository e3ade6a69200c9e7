#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Boots testos under QEMU (KVM) and checks its serial output and exit status.

usage: testos_qemu.py --elf E --bzimage B --pvh-exit P [--repeat N] CASE...
       testos_qemu.py --list

Each CASE is one QEMU run (see CASES). QEMU runs with -no-reboot and the
isa-debug-exit device at 0xf4, so its exit status is
  0          testos powered off (i8042 reset or triple fault)
  2 * v + 1  testos wrote v to port 0xf4 (v = 0: pass)
Prints, per run, "timing: CASE first_line_ms=F total_ms=T" (milliseconds from
starting QEMU to the first serial line and to QEMU's exit). With --repeat N,
runs each case N times and also prints the medians.
Exit status: 0 all passed, 1 a check failed, 77 (skip) without /dev/kvm.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time

QEMU = "qemu-system-x86_64"
COMMON = ["-accel", "kvm", "-nodefaults", "-no-reboot", "-display", "none",
          "-serial", "stdio", "-monitor", "none",
          "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
EXIT_POWER_OFF = 0
EXIT_PASS = 1          # debug-exit value 0


def exit_for(code):
    """QEMU's exit status when testos writes code to port 0xf4."""
    return code * 2 + 1


def check_banner(mode, boot, mem_mib, cpus, cmdline):
    """A check that the first line is the testos banner with these values."""
    pattern = re.compile(r'^testos: (\S+) boot=(\S+) mem_mib=(\d+) cpus=(\d+) cmdline="(.*)"$')

    def check(lines):
        if not lines:
            return "no output"
        m = pattern.match(lines[0][1])
        if not m:
            return f"first line is not the banner: {lines[0][1]!r}"
        got_mode, got_boot, got_mem, got_cpus, got_cmdline = m.groups()
        if got_mode != mode or got_boot != boot:
            return f"banner says mode={got_mode} boot={got_boot}, want {mode} {boot}"
        # The e820 map leaves out the BIOS areas: a few MiB less than -m.
        if not mem_mib - 4 <= int(got_mem) <= mem_mib:
            return f"banner says mem_mib={got_mem}, want about {mem_mib}"
        if int(got_cpus) != cpus:
            return f"banner says cpus={got_cpus}, want {cpus}"
        if got_cmdline != cmdline:
            return f"banner says cmdline={got_cmdline!r}, want {cmdline!r}"
        return None
    return check


def check_counter(count):
    def check(lines):
        values = [(t, int(m.group(1))) for t, s in lines
                  for m in [re.match(r"^counter (\d+)$", s)] if m]
        if [v for _, v in values] != list(range(count)):
            return f"counter lines are {[v for _, v in values]}, want 0..{count - 1}"
        if not any(re.match(r"^tsc: khz=\d+ source=\S+$", s) for _, s in lines):
            return "no 'tsc: khz=N source=S' line"
        span = values[-1][0] - values[0][0]
        want = (count - 1) * 0.1
        if not want * 0.7 <= span <= want + 2.0:
            return f"counter 0..{count - 1} took {span:.3f} s, want about {want:.1f} s"
        return None
    return check


def check_smp(cpus):
    def check(lines):
        text = [s for _, s in lines]
        if f"smp: {cpus} of {cpus} cpus running" not in text:
            return f"no 'smp: {cpus} of {cpus} cpus running' line"
        counts = {}
        for s in text:
            m = re.match(r"^smp: cpu (\d+) apic=(\d+) count=(\d+)$", s)
            if m:
                counts[int(m.group(1))] = int(m.group(3))
        if sorted(counts) != list(range(cpus)):
            return f"per-CPU lines for cpus {sorted(counts)}, want 0..{cpus - 1}"
        if any(counts[i] == 0 for i in range(1, cpus)):
            return f"an AP did not count: {counts}"
        return None
    return check


def check_dirty(seconds, rate):
    def check(lines):
        rates = [float(m.group(1)) for _, s in lines
                 for m in [re.match(r"^dirty: t=\d+ pages=\d+ mib_s=([\d.]+) total=\d+$", s)] if m]
        if len(rates) != seconds:
            return f"{len(rates)} progress lines, want {seconds}"
        if any(abs(r - rate) > rate * 0.2 for r in rates):
            return f"dirty rates {rates} MiB/s, want about {rate}"
        return None
    return check


def check_line(regex):
    def check(lines):
        if not any(re.search(regex, s) for _, s in lines):
            return f"no line matching {regex!r}"
        return None
    return check


def check_no_output(lines):
    return f"unexpected output: {lines[0][1]!r}" if lines else None


# name: (machine, image, -m MiB, -smp, cmdline, expected exit status, checks, timeout s)
CASES = {
    "microvm-hello": ("microvm", "elf", 64, 1, "hello", EXIT_POWER_OFF,
                      [check_banner("hello", "pvh", 64, 1, "hello")], 30),
    "microvm-counter": ("microvm", "elf", 64, 1, "counter count=5", EXIT_PASS,
                        [check_banner("counter", "pvh", 64, 1, "counter count=5"),
                         check_counter(5)], 30),
    "microvm-dirty": ("microvm", "elf", 64, 1, "dirty mib=16 rate=40 seconds=2", EXIT_PASS,
                      [check_banner("dirty", "pvh", 64, 1, "dirty mib=16 rate=40 seconds=2"),
                       check_dirty(2, 40)], 30),
    "microvm-fault": ("microvm", "elf", 64, 1, "fault kind=pf", exit_for(2),
                      [check_line(r"^testos: FAIL exception #PF vector=14 err=0x6 "
                                  r"rip=0x[0-9a-f]+ cr2=0x100000000 ")], 30),
    "microvm-badmode": ("microvm", "elf", 64, 1, "mode=nope", exit_for(1),
                        [check_line(r"^testos: FAIL unknown mode nope$")], 30),
    "microvm-pvh-exit": ("microvm", "pvh-exit", 64, 1, "", EXIT_PASS, [check_no_output], 30),
    "pc-bzimage-hello": ("pc", "bzimage", 64, 1, "hello", EXIT_POWER_OFF,
                         [check_banner("hello", "bzImage-16bit", 64, 1, "hello")], 90),
    "pc-bzimage-smp": ("pc", "bzimage", 64, 2, "smp", EXIT_PASS,
                       [check_banner("smp", "bzImage-16bit", 64, 2, "smp"), check_smp(2)], 90),
    "pc-pvh-hello": ("pc", "elf", 64, 1, "hello exit=debug", EXIT_PASS,
                     [check_banner("hello", "pvh", 64, 1, "hello exit=debug")], 90),
}


def run_qemu(cmd, timeout):
    """Runs cmd; returns (status, [(seconds since start, line)], stderr, total s)."""
    lines = []
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    err = []
    t = threading.Thread(target=lambda: err.append(proc.stderr.read()))
    t.start()
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        for raw in proc.stdout:
            lines.append((time.monotonic() - start,
                          raw.decode("ascii", "replace").rstrip("\r\n")))
        status = proc.wait()
    finally:
        timer.cancel()
        t.join()
    total = time.monotonic() - start
    if total >= timeout:
        status = None
    return status, lines, err[0].decode("utf-8", "replace") if err else "", total


def run_case(name, images):
    machine, image, mem, smp, cmdline, want_status, checks, timeout = CASES[name]
    cmd = [QEMU, "-M", machine, "-m", f"{mem}M", "-smp", str(smp)] + COMMON + \
          ["-kernel", images[image]]
    if cmdline:
        cmd += ["-append", cmdline]
    status, lines, stderr, total = run_qemu(cmd, timeout)
    problems = []
    if status is None:
        problems.append(f"timed out after {timeout} s")
    elif status != want_status:
        problems.append(f"QEMU exit status {status}, want {want_status}")
    for check in checks:
        p = check(lines)
        if p:
            problems.append(p)
    first = lines[0][0] * 1000 if lines else float("nan")
    print(f"timing: {name} first_line_ms={first:.1f} total_ms={total * 1000:.1f}")
    if problems:
        print(f"FAIL {name}: " + "; ".join(problems))
        print("command: " + " ".join(cmd))
        for t, s in lines:
            print(f"  [{t * 1000:8.1f} ms] {s}")
        if stderr.strip():
            print("stderr:\n" + stderr)
        return False, first, total * 1000
    print(f"ok {name}")
    return True, first, total * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--elf")
    ap.add_argument("--bzimage")
    ap.add_argument("--pvh-exit")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--list", action="store_true")
    ap.add_argument("cases", nargs="*")
    args = ap.parse_args()
    if args.list:
        print("\n".join(CASES))
        return 0
    unknown = [c for c in args.cases if c not in CASES]
    if unknown or not args.cases:
        ap.error(f"cases: {', '.join(CASES)}")
    if not shutil.which(QEMU):
        print(f"{QEMU} not found (scripts/install-deps.sh installs qemu-system-x86)")
        return 1
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skip: /dev/kvm is not usable")
        return 77
    images = {"elf": args.elf, "bzimage": args.bzimage, "pvh-exit": args.pvh_exit}
    ok = True
    for name in args.cases:
        firsts, totals = [], []
        for _ in range(args.repeat):
            passed, first, total = run_case(name, images)
            ok = ok and passed
            firsts.append(first)
            totals.append(total)
        if args.repeat > 1:
            print(f"median: {name} first_line_ms={statistics.median(firsts):.1f} "
                  f"total_ms={statistics.median(totals):.1f} (n={args.repeat})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
