#!/usr/bin/python3
"""Boots Debian's own kernel (the ELF vmlinux, 64-bit entry) in vireo-vmm.

Checks, from the serial console, that the kernel saw the command line, the
e820 map, the memory and the CPU count we gave it. Then, on a PVM host, that
the VMM stopped at the first instruction the host cannot emulate in guest
kernel mode (the kernel's int3 self-test) with a clear report; on a host with
VT-x or AMD-V, that the initramfs's init ran and the guest powered off.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from vmmtest import SOURCE, check, finish, run_vmm, EXIT_OK, EXIT_INTERNAL_ERROR  # noqa: E402

CACHE = os.path.join(SOURCE, ".cache", "debian-guest")
MEM_MIB, CPUS = 256, 2


def main():
    subprocess.run([os.path.join(SOURCE, "scripts", "build-debian-guest.sh"), CACHE], check=True,
                   stdout=subprocess.DEVNULL)
    pvm = os.path.exists("/sys/module/kvm_pvm")
    marker = "vireo.test=%d" % os.getpid()
    cmdline = f"console=ttyS0 reboot=k panic=-1 noxsave acpi=off {marker}"
    status, serial, log = run_vmm([
        "--kernel", os.path.join(CACHE, "vmlinux"),
        "--initrd", os.path.join(CACHE, "initramfs.cpio.gz"),
        "--cmdline", cmdline, "--mem", str(MEM_MIB), "--cpus", str(CPUS),
        "--boot-protocol", "linux64"], timeout=600)

    check(f"Command line: {cmdline}" in serial, "the kernel saw our command line")
    e820 = re.findall(r"BIOS-e820: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\] (\w+)", serial)
    expected = [(0, 0x9fbff, "usable"), (0x9fc00, 0xfffff, "reserved"),
                (0x100000, MEM_MIB * 1024 * 1024 - 1, "usable")]
    check([(int(a, 16), int(b, 16), t) for a, b, t in e820] == expected,
          f"the kernel saw our e820 map: {e820}")
    check("found SMP MP-table at [mem 0x000f0000" in serial, "the kernel found our MP table")
    m = re.search(r"Memory: \d+K/(\d+)K available", serial)
    check(m is not None and MEM_MIB * 1024 - 1024 <= int(m.group(1)) <= MEM_MIB * 1024,
          f"the kernel saw {MEM_MIB} MiB of RAM ({m.group(0) if m else 'no Memory: line'})")
    check(f"nr_cpu_ids={CPUS}" in serial or f"CPUs={CPUS}," in serial,
          f"the kernel saw {CPUS} CPUs")

    if pvm:
        print("PVM host: the kernel is expected to stop at an instruction PVM cannot emulate")
        check(status == EXIT_INTERNAL_ERROR, f"exit status {status} is {EXIT_INTERNAL_ERROR}")
        report = [line for line in log.splitlines() if "exit %d:" % EXIT_INTERNAL_ERROR in line]
        check(len(report) == 1, "one report line for the stop")
        line = report[0] if report else ""
        check("emulation failure" in line and re.search(r"rip 0xffffffff[0-9a-f]+", line) is not None,
              f"the report names the failure and the kernel RIP: {line}")
        check("instruction bytes cc" in line, "the instruction at RIP is the int3 (cc) of the self-test")
    else:
        print("hardware virtualization: the kernel is expected to reach init and power off")
        check("VIREO-INIT: start" in serial, "the initramfs's init ran")
        check(f"VIREO-INIT: cpus={CPUS}" in serial, "init saw the CPUs")
        check("VIREO-INIT: done" in serial and status == EXIT_OK, f"the guest finished (status {status})")
    finish()


if __name__ == "__main__":
    main()
