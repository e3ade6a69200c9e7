#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Builds testos.bzImage from the real-mode setup ELF and testos.elf.

Layout of the result (Linux boot protocol, Documentation/arch/x86/boot.rst):
  [0, (setup_sects + 1) * 512)  boot sector + setup header + 16-bit setup
  then the protected-mode payload: the loadable bytes of testos.elf from its
  load address (0x100000) on, so entry32 is at payload offset 0 and entry64
  at payload offset 0x200.
The script fills syssize (payload size in 16-byte units) and init_size
(memory the image needs from the load address, bss and stacks included),
and checks the header fields the loaders rely on.

usage: mkbzimage.py SETUP_ELF TESTOS_ELF OUTPUT
"""
import struct
import sys

LOAD_ADDR = 0x100000
PT_LOAD = 1


def load_segments(path):
    """Returns (e_entry, [(paddr, filedata, memsz)]) of an ELF64 x86-64 file."""
    data = open(path, "rb").read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        sys.exit(f"mkbzimage: {path}: not a little-endian ELF64 file")
    (e_type, e_machine, _, e_entry, e_phoff, _, _, _, e_phentsize,
     e_phnum) = struct.unpack_from("<HHIQQQIHHH", data, 16)
    if e_machine != 62:
        sys.exit(f"mkbzimage: {path}: not x86-64")
    segs = []
    for i in range(e_phnum):
        (p_type, _, p_offset, _, p_paddr, p_filesz, p_memsz,
         _) = struct.unpack_from("<IIQQQQQQ", data, e_phoff + i * e_phentsize)
        if p_type == PT_LOAD and p_memsz > 0:
            segs.append((p_paddr, data[p_offset:p_offset + p_filesz], p_memsz))
    if not segs:
        sys.exit(f"mkbzimage: {path}: no loadable segment")
    return e_entry, sorted(segs, key=lambda s: s[0])


def flatten(segs, base):
    """Returns (bytes from base to the last file byte, end of memory)."""
    file_end = max(p + len(d) for p, d, _ in segs)
    mem_end = max(p + m for p, _, m in segs)
    if min(p for p, _, _ in segs) != base:
        sys.exit(f"mkbzimage: image does not start at {base:#x}")
    out = bytearray(file_end - base)
    for p, d, _ in segs:
        out[p - base:p - base + len(d)] = d
    return bytes(out), mem_end


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    _, setup_segs = load_segments(sys.argv[1])
    setup, _ = flatten(setup_segs, 0)
    entry, image_segs = load_segments(sys.argv[2])
    payload, mem_end = flatten(image_segs, LOAD_ADDR)
    if entry != LOAD_ADDR + 0x200:
        sys.exit(f"mkbzimage: entry64 is at {entry:#x}, not load address + 0x200")

    setup = bytearray(setup)
    setup_sects = setup[0x1f1]
    if len(setup) != (setup_sects + 1) * 512:
        sys.exit(f"mkbzimage: setup is {len(setup)} bytes, header says {setup_sects} sectors")
    checks = [
        (0x1fe, "<H", 0xAA55, "boot_flag"),
        (0x202, "<I", 0x53726448, "header magic HdrS"),
        (0x206, "<H", 0x020C, "version"),
        (0x211, "<B", 0x01, "loadflags LOADED_HIGH"),
        (0x214, "<I", LOAD_ADDR, "code32_start"),
        (0x234, "<B", 0, "relocatable_kernel"),
        (0x236, "<H", 0x0001, "xloadflags XLF_KERNEL_64"),
        (0x258, "<Q", LOAD_ADDR, "pref_address"),
    ]
    for off, fmt, want, name in checks:
        got = struct.unpack_from(fmt, setup, off)[0]
        if got != want:
            sys.exit(f"mkbzimage: {name} at {off:#x} is {got:#x}, expected {want:#x}")

    payload += bytes(-len(payload) % 16)
    init_size = (mem_end - LOAD_ADDR + 4095) & ~4095
    struct.pack_into("<I", setup, 0x1f4, len(payload) // 16)  # syssize
    struct.pack_into("<I", setup, 0x260, init_size)
    with open(sys.argv[3], "wb") as f:
        f.write(setup)
        f.write(payload)


if __name__ == "__main__":
    main()
