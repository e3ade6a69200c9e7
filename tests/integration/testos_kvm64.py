#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Boots testos through the Linux 64-bit entry on bare /dev/kvm.

QEMU cannot enter a kernel at its 64-bit entry, but vireo-vmm will. This test
does what such a VMM does (Documentation/arch/x86/boot.rst, "64-bit boot
protocol"), with nothing but the KVM ioctls:
  - loads testos.elf's PT_LOAD segments at p_paddr and enters at e_entry, or
    loads testos.bzImage's payload at 0x100000 and enters at 0x100200
    (XLF_KERNEL_64);
  - builds a zero page (e820 map, setup header, cmd_line_ptr) at 0x7000, an
    identity map of the first 1 GiB at 0x9000, and a GDT with 0x10 = 64-bit
    code and 0x18 = data;
  - starts the vCPU in long mode with rsi = the zero page;
  - emulates the COM1 UART (output only), the debug-exit port 0xf4 and an
    absent i8042 (reads 0xff), and reports the result.

usage: testos_kvm64.py {elf|bzimage} IMAGE CMDLINE EXPECT
  EXPECT: "debug:N" (testos wrote N to port 0xf4) or "shutdown" (triple fault)
Checks that the banner says boot=linux64 with the right memory size and
command line. Exit status 0 pass, 1 fail, 77 skip (no /dev/kvm).
"""
import ctypes
import fcntl
import mmap
import os
import struct
import sys
import time

KVMIO = 0xAE


def _io(nr):
    return (KVMIO << 8) | nr


def _iow(nr, size):
    return (1 << 30) | (size << 16) | (KVMIO << 8) | nr


def _ior(nr, size):
    return (2 << 30) | (size << 16) | (KVMIO << 8) | nr


def _iowr(nr, size):
    return (3 << 30) | (size << 16) | (KVMIO << 8) | nr


KVM_GET_API_VERSION = _io(0x00)
KVM_CREATE_VM = _io(0x01)
KVM_GET_VCPU_MMAP_SIZE = _io(0x04)
KVM_GET_SUPPORTED_CPUID = _iowr(0x05, 8)
KVM_CREATE_VCPU = _io(0x41)
KVM_SET_USER_MEMORY_REGION = _iow(0x46, 32)
KVM_SET_TSS_ADDR = _io(0x47)
KVM_RUN = _io(0x80)
KVM_SET_REGS = _iow(0x82, 144)
KVM_GET_SREGS = _ior(0x83, 312)
KVM_SET_SREGS = _iow(0x84, 312)
KVM_SET_CPUID2 = _iow(0x90, 8)

KVM_EXIT_IO = 2
KVM_EXIT_HLT = 5
KVM_EXIT_SHUTDOWN = 8
EXIT_NAMES = {0: "unknown", 1: "exception", 4: "debug", 6: "mmio", 9: "fail_entry",
              17: "internal_error"}

MEM_SIZE = 64 << 20
ZERO_PAGE = 0x7000
CMDLINE = 0x20000
GDT = 0x500
PML4 = 0x9000
LOAD = 0x100000


class CpuidEntry(ctypes.Structure):
    _fields_ = [("function", ctypes.c_uint32), ("index", ctypes.c_uint32),
                ("flags", ctypes.c_uint32), ("eax", ctypes.c_uint32),
                ("ebx", ctypes.c_uint32), ("ecx", ctypes.c_uint32),
                ("edx", ctypes.c_uint32), ("padding", ctypes.c_uint32 * 3)]


class Cpuid(ctypes.Structure):
    _fields_ = [("nent", ctypes.c_uint32), ("padding", ctypes.c_uint32),
                ("entries", CpuidEntry * 256)]


class Segment(ctypes.Structure):
    _fields_ = [("base", ctypes.c_uint64), ("limit", ctypes.c_uint32),
                ("selector", ctypes.c_uint16), ("type", ctypes.c_uint8),
                ("present", ctypes.c_uint8), ("dpl", ctypes.c_uint8),
                ("db", ctypes.c_uint8), ("s", ctypes.c_uint8), ("l", ctypes.c_uint8),
                ("g", ctypes.c_uint8), ("avl", ctypes.c_uint8),
                ("unusable", ctypes.c_uint8), ("padding", ctypes.c_uint8)]


class Dtable(ctypes.Structure):
    _fields_ = [("base", ctypes.c_uint64), ("limit", ctypes.c_uint16),
                ("padding", ctypes.c_uint16 * 3)]


class Sregs(ctypes.Structure):
    _fields_ = [("cs", Segment), ("ds", Segment), ("es", Segment), ("fs", Segment),
                ("gs", Segment), ("ss", Segment), ("tr", Segment), ("ldt", Segment),
                ("gdt", Dtable), ("idt", Dtable),
                ("cr0", ctypes.c_uint64), ("cr2", ctypes.c_uint64),
                ("cr3", ctypes.c_uint64), ("cr4", ctypes.c_uint64),
                ("cr8", ctypes.c_uint64), ("efer", ctypes.c_uint64),
                ("apic_base", ctypes.c_uint64), ("interrupt_bitmap", ctypes.c_uint64 * 4)]


class Regs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in
                ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10",
                 "r11", "r12", "r13", "r14", "r15", "rip", "rflags")]


class MemRegion(ctypes.Structure):
    _fields_ = [("slot", ctypes.c_uint32), ("flags", ctypes.c_uint32),
                ("guest_phys_addr", ctypes.c_uint64), ("memory_size", ctypes.c_uint64),
                ("userspace_addr", ctypes.c_uint64)]


def load_elf(mem, data):
    """Copies the PT_LOAD segments to guest memory; returns e_entry."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        sys.exit("testos_kvm64: not an ELF64 file")
    e_entry, e_phoff = struct.unpack_from("<QQ", data, 24)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
    for i in range(e_phnum):
        p_type, _, off, _, paddr, filesz, memsz, _ = struct.unpack_from(
            "<IIQQQQQQ", data, e_phoff + i * e_phentsize)
        if p_type == 1:
            mem[paddr:paddr + filesz] = data[off:off + filesz]
            mem[paddr + filesz:paddr + memsz] = bytes(memsz - filesz)
    return e_entry


def load_bzimage(mem, data):
    """Copies the protected-mode payload to 0x100000; returns the 64-bit entry."""
    if struct.unpack_from("<I", data, 0x202)[0] != 0x53726448:
        sys.exit("testos_kvm64: no HdrS")
    if not struct.unpack_from("<H", data, 0x236)[0] & 1:
        sys.exit("testos_kvm64: no XLF_KERNEL_64")
    setup_sects = data[0x1f1] or 4
    payload = data[(setup_sects + 1) * 512:]
    mem[LOAD:LOAD + len(payload)] = payload
    return LOAD + 0x200


def build_boot_params(mem, image, cmdline):
    bp = bytearray(4096)
    if image is not None:
        bp[0x1f1:0x1f1 + 0x77] = image[0x1f1:0x1f1 + 0x77]   # the setup header
    struct.pack_into("<H", bp, 0x1fe, 0xAA55)
    struct.pack_into("<I", bp, 0x202, 0x53726448)
    if image is None:
        struct.pack_into("<H", bp, 0x206, 0x020c)
    bp[0x210] = 0xff                                         # type_of_loader
    struct.pack_into("<I", bp, 0x228, CMDLINE)
    e820 = [(0, 0x9fc00, 1), (0x9fc00, 0x400, 2), (0xf0000, 0x10000, 2),
            (LOAD, MEM_SIZE - LOAD, 1)]
    for i, (addr, size, typ) in enumerate(e820):
        struct.pack_into("<QQI", bp, 0x2d0 + 20 * i, addr, size, typ)
    bp[0x1e8] = len(e820)
    mem[ZERO_PAGE:ZERO_PAGE + 4096] = bp
    c = cmdline.encode() + b"\0"
    mem[CMDLINE:CMDLINE + len(c)] = c
    # Identity map of the first 1 GiB (2 MiB pages), and the boot GDT.
    struct.pack_into("<Q", mem, PML4, (PML4 + 0x1000) | 3)
    struct.pack_into("<Q", mem, PML4 + 0x1000, (PML4 + 0x2000) | 3)
    for i in range(512):
        struct.pack_into("<Q", mem, PML4 + 0x2000 + 8 * i, (i << 21) | 0x83)
    struct.pack_into("<QQQQ", mem, GDT, 0, 0, 0x00af9b000000ffff, 0x00cf93000000ffff)


def set_long_mode(vcpu):
    sregs = Sregs()
    fcntl.ioctl(vcpu, KVM_GET_SREGS, sregs)
    code = Segment(base=0, limit=0xffffffff, selector=0x10, type=11, present=1, dpl=0,
                   db=0, s=1, l=1, g=1)
    data = Segment(base=0, limit=0xffffffff, selector=0x18, type=3, present=1, dpl=0,
                   db=1, s=1, l=0, g=1)
    sregs.cs = code
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data
    sregs.gdt.base, sregs.gdt.limit = GDT, 31
    sregs.cr3 = PML4
    sregs.cr4 = 0x20                      # PAE
    sregs.cr0 = 0x80050033                # PG AM WP NE ET MP PE
    sregs.efer = 0x500                    # LME LMA
    fcntl.ioctl(vcpu, KVM_SET_SREGS, sregs)


def run(kind, path, cmdline, timeout=30.0):
    """Returns (result, serial text): result is "debug:N", "shutdown" or an error."""
    kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    if fcntl.ioctl(kvm, KVM_GET_API_VERSION) != 12:
        return "bad KVM API version", ""
    vm = fcntl.ioctl(kvm, KVM_CREATE_VM, 0)
    try:
        fcntl.ioctl(vm, KVM_SET_TSS_ADDR, 0x7fff0000)  # 3 pages outside RAM
    except OSError:
        pass                               # not needed on every host
    mem = mmap.mmap(-1, MEM_SIZE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(mem))
    fcntl.ioctl(vm, KVM_SET_USER_MEMORY_REGION,
                MemRegion(0, 0, 0, MEM_SIZE, addr))
    data = open(path, "rb").read()
    if kind == "elf":
        entry = load_elf(mem, data)
        build_boot_params(mem, None, cmdline)
    else:
        entry = load_bzimage(mem, data)
        build_boot_params(mem, data, cmdline)

    vcpu = fcntl.ioctl(vm, KVM_CREATE_VCPU, 0)
    cpuid = Cpuid(nent=256)
    fcntl.ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid)
    fcntl.ioctl(vcpu, KVM_SET_CPUID2, cpuid)
    set_long_mode(vcpu)
    fcntl.ioctl(vcpu, KVM_SET_REGS, Regs(rip=entry, rsi=ZERO_PAGE, rsp=0x8ff0, rflags=2))
    run_size = fcntl.ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE)
    kvm_run = mmap.mmap(vcpu, run_size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)

    serial = bytearray()
    lcr = 0                                # UART line control: bit 7 = divisor latch
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fcntl.ioctl(vcpu, KVM_RUN, 0)
        reason = struct.unpack_from("<I", kvm_run, 8)[0]
        if reason == KVM_EXIT_SHUTDOWN:
            return "shutdown", serial.decode("ascii", "replace")
        if reason == KVM_EXIT_HLT:
            return "hlt", serial.decode("ascii", "replace")
        if reason != KVM_EXIT_IO:
            return f"exit {EXIT_NAMES.get(reason, reason)}", serial.decode("ascii", "replace")
        direction, size, port, count, off = struct.unpack_from("<BBHIQ", kvm_run, 32)
        for i in range(count):
            p = off + i * size
            if direction == 1:             # out
                val = kvm_run[p]
                if port == 0x3f8 and not lcr & 0x80:
                    serial.append(val)
                elif port == 0x3fb:
                    lcr = val
                elif port == 0xf4:
                    return f"debug:{val}", serial.decode("ascii", "replace")
            else:                          # in
                if port == 0x3fd:
                    val = 0x60             # LSR: transmitter empty
                else:
                    val = 0xff             # nothing there (i8042 included)
                kvm_run[p:p + size] = bytes([val]) * size
    return "timeout", serial.decode("ascii", "replace")


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ("elf", "bzimage"):
        sys.exit(__doc__)
    kind, path, cmdline, expect = sys.argv[1:]
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skip: /dev/kvm is not usable")
        return 77
    start = time.monotonic()
    result, text = run(kind, path, cmdline)
    ms = (time.monotonic() - start) * 1000
    print(f"{kind}: result={result} in {ms:.1f} ms")
    problems = []
    if result != expect:
        problems.append(f"result {result}, want {expect}")
    lines = text.replace("\r", "").splitlines()
    mode = cmdline.split()[0] if cmdline else "hello"
    # e820: 0x9fc00 + (64 MiB - 1 MiB) of RAM
    want = f'testos: {mode} boot=linux64 mem_mib={(0x9fc00 + MEM_SIZE - LOAD) >> 20} cpus=1 cmdline="{cmdline}"'
    if not lines or lines[0] != want:
        problems.append(f"first line {lines[0] if lines else None!r}, want {want!r}")
    for line in lines:
        print("  " + line)
        if line.startswith("testos: FAIL") and expect in ("debug:0", "shutdown"):
            problems.append(f"failure line: {line}")
    if problems:
        print("FAIL: " + "; ".join(problems))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
