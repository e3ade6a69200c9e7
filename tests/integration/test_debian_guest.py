#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Checks the Debian guest artifacts (scripts/build-debian-guest.sh).

usage: test_debian_guest.py artifacts|boot [--repo DIR] [--outdir DIR]

Both modes first run the build script on OUTDIR (default
<repo>/.cache/debian-guest, or $VIREO_DEBIAN_GUEST_DIR), which does nothing
when the artifacts are up to date.

artifacts: checks without running anything that
  - vmlinuz is a bzImage: boot signature, "HdrS" header, the boot protocol
    version the kernel's version implies, a 64-bit entry (xloadflags), and the
    kernel version string that manifest.txt records;
  - vmlinux is an ELF64 x86-64 executable whose entry point lies in its
    executable load segment, mapped the way a 64-bit x86 kernel is
    (virtual = physical + 0xffffffff80000000), containing the same
    "Linux version" string, with a PVH entry note (reported, for VMMs);
  - initramfs.cpio.gz holds an executable /init, a static busybox, and every
    module of the load order, each after every module it depends on
    (read from the modules' own .modinfo);
  - every artifact has the sha256 that manifest.txt records.

boot: boots the artifacts under QEMU with TCG (no KVM) twice:
  1. -smp 2 -m 512, a virtio disk of random bytes, a virtio NIC with a random
     MAC, virtio-rng; the command line carries the disk's sha256 and the MAC.
     The guest must report cpus=2, disk ok, mac ok, rng ok, exit=poweroff,
     done, and QEMU must exit by itself (ACPI power-off). Prints the time from starting QEMU to
     "VIREO-INIT: start": the TCG baseline for the project's boot benchmark.
  2. the extracted vmlinux (QEMU boots an ELF kernel through its PVH entry
     note), no ACPI, -smp 1 -m 256, a disk whose sha256 on the command line is wrong (it is the
     hash of its first 4 KiB, but vireo.disk_bytes=8192 asks for 8 KiB), no NIC,
     no rng: the guest must report cpus=1, the 8 KiB hash, disk mismatch,
     mac absent, rng absent, exit=reboot, done, and QEMU must exit by itself
     (reboot=k resets through the i8042; -no-reboot makes QEMU exit).
Exit status 0 when every check passes.
"""
import argparse
import gzip
import hashlib
import os
import re
import select
import struct
import subprocess
import sys
import tempfile
import time

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def build(repo, outdir):
    t0 = time.monotonic()
    r = subprocess.run([os.path.join(repo, "scripts", "build-debian-guest.sh"), outdir])
    if r.returncode != 0:
        print(f"FAIL build-debian-guest.sh exited {r.returncode}")
        sys.exit(1)
    print(f"build-debian-guest.sh: {time.monotonic() - t0:.1f} s", flush=True)


def read_manifest(outdir):
    m = {"package": {}, "sha256": {}, "size": {}}
    with open(os.path.join(outdir, "manifest.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            key, _, rest = line.partition(" ")
            if key in ("package", "sha256", "size"):
                name, _, value = rest.partition(" ")
                m[key][name] = value
            else:
                m[key] = rest
    return m


def check_bzimage(path, manifest):
    with open(path, "rb") as f:
        data = f.read()
    check(len(data) > 0x300, f"vmlinuz is {len(data)} bytes")
    check(data[0x1FE:0x200] == b"\x55\xaa", "vmlinuz has the 0x55AA boot signature")
    if not check(data[0x202:0x206] == b"HdrS", 'vmlinuz has the "HdrS" setup header'):
        return
    version = struct.unpack_from("<H", data, 0x206)[0]
    kver = manifest.get("kernel", "")
    mm = re.match(r"(\d+)\.(\d+)", kver)
    major_minor = (int(mm.group(1)), int(mm.group(2))) if mm else (0, 0)
    # Boot protocol 2.15 since Linux 5.5 (kernel_info); 2.12 brought xloadflags.
    expected = 0x020F if major_minor >= (5, 5) else None
    print(f"     boot protocol {version >> 8}.{version & 0xff:02d}, kernel {kver}")
    if expected is not None:
        check(version == expected, f"boot protocol is 2.{expected & 0xff} as Linux {kver} implies")
    check(version >= 0x020C, "boot protocol >= 2.12 (has xloadflags)")
    xloadflags = struct.unpack_from("<H", data, 0x236)[0]
    check(xloadflags & 1, f"xloadflags {xloadflags:#x} has XLF_KERNEL_64 (64-bit entry at +0x200)")
    setup_sects = data[0x1F1] or 4
    check(len(data) > (setup_sects + 1) * 512, "protected-mode code follows the setup sectors")
    kptr = struct.unpack_from("<H", data, 0x20E)[0]
    kstr = data[kptr + 0x200:kptr + 0x200 + 256].split(b"\0")[0].decode("ascii", "replace")
    check(kstr == manifest.get("kernel_version"),
          f"bzImage version string matches manifest ({kstr!r})")


def elf_notes(data, off, size):
    """Yields (owner, type, desc) from an ELF note area."""
    end = off + size
    while off + 12 <= end:
        namesz, descsz, ntype = struct.unpack_from("<III", data, off)
        off += 12
        name = data[off:off + namesz].rstrip(b"\0")
        off += (namesz + 3) & ~3
        desc = data[off:off + descsz]
        off += (descsz + 3) & ~3
        yield name, ntype, desc


def check_vmlinux(path, manifest):
    with open(path, "rb") as f:
        data = f.read()
    if not check(data[:4] == b"\x7fELF", "vmlinux has the ELF magic"):
        return
    check(data[4] == 2, "vmlinux is ELF64")
    check(data[5] == 1, "vmlinux is little-endian")
    e_type, e_machine, _, e_entry, e_phoff = struct.unpack_from("<HHIQQ", data, 16)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
    check(e_type == 2, "vmlinux is an executable (ET_EXEC)")
    check(e_machine == 62, "vmlinux is x86-64 (EM_X86_64)")
    print(f"     entry {e_entry:#x}, {e_phnum} program headers")
    in_text = False
    pvh = None
    for i in range(e_phnum):
        p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, _p_memsz = struct.unpack_from(
            "<IIQQQQQ", data, e_phoff + i * e_phentsize)
        if p_type == 1 and (p_flags & 1) and p_paddr <= e_entry < p_paddr + p_filesz:
            in_text = True
            check(p_vaddr - p_paddr == 0xFFFFFFFF80000000,
                  "the entry's segment is mapped at __START_KERNEL_map (64-bit kernel)")
            code = data[p_offset + (e_entry - p_paddr):][:4]
            # startup_64 begins with a RIP-relative load into %rsp: REX.W lea.
            check(code[:3] == b"\x48\x8d\x25",
                  f"code at the entry is 64-bit (REX.W lea ...(%rip),%rsp: {code.hex()})")
        if p_type == 4:
            for owner, ntype, desc in elf_notes(data, p_offset, p_filesz):
                if owner == b"Xen" and ntype == 18 and len(desc) >= 4:  # PHYS32_ENTRY
                    pvh = struct.unpack_from("<I", desc)[0]
    check(in_text, "entry point lies in an executable PT_LOAD segment (physical address)")
    if check(pvh is not None, "vmlinux has a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)"):
        print(f"     PVH 32-bit entry {pvh:#x}")
    # The bzImage's string is "KVER (BUILDER) #N ..."; the kernel's banner adds
    # the compiler between the two: "Linux version KVER (BUILDER) (gcc ...) #N ...".
    who, _, build = (manifest.get("kernel_version") or "").partition(" #")
    banners = re.findall(rb"Linux version ([^\0\n]*)", data)
    check(any(b.startswith(who.encode() + b" (") and b.endswith(b" #" + build.encode())
              for b in banners) and who and build,
          "vmlinux's 'Linux version' banner matches the bzImage's version string")


def cpio_newc(data):
    """Returns {name: (mode, bytes)} from a newc cpio archive."""
    files = {}
    off = 0
    while off + 110 <= len(data):
        if data[off:off + 6] != b"070701":
            raise ValueError(f"bad cpio magic at {off}")
        fields = [int(data[off + 6 + 8 * i:off + 14 + 8 * i], 16) for i in range(13)]
        mode, filesize, namesize = fields[1], fields[6], fields[11]
        name = data[off + 110:off + 110 + namesize - 1].decode()
        off = (off + 110 + namesize + 3) & ~3
        body = data[off:off + filesize]
        off = (off + filesize + 3) & ~3
        if name == "TRAILER!!!":
            break
        files[name] = (mode, body)
    return files


def modinfo(ko):
    """The key=value strings of a module's .modinfo (found by their keys)."""
    info = {}
    for key in (b"name", b"depends", b"vermagic"):
        m = re.search(b"\0" + key + b"=([^\0]*)\0", ko)
        if m:
            info[key.decode()] = m.group(1).decode()
    return info


def elf_has_interp(data):
    """Whether an ELF64 file has a PT_INTERP program header (is dynamically linked)."""
    e_phoff = struct.unpack_from("<Q", data, 32)[0]
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
    return any(struct.unpack_from("<I", data, e_phoff + i * e_phentsize)[0] == 3
               for i in range(e_phnum))


def check_initramfs(path, manifest):
    with open(path, "rb") as f:
        files = cpio_newc(gzip.decompress(f.read()))
    init = files.get("init")
    if check(init is not None, "initramfs has /init"):
        check(init[0] & 0o111 and init[1].startswith(b"#!/bin/busybox sh"),
              "/init is an executable busybox sh script")
    bb = files.get("bin/busybox")
    if check(bb is not None and bb[1][:4] == b"\x7fELF", "initramfs has an ELF bin/busybox"):
        check(not elf_has_interp(bb[1]), "bin/busybox is static (no PT_INTERP)")
    kver = manifest.get("kernel", "")
    order_file = files.get(f"lib/modules/{kver}/vireo-load-order")
    if not check(order_file is not None, f"initramfs has lib/modules/{kver}/vireo-load-order"):
        return
    order = order_file[1].decode().split()
    check(order == manifest.get("modules", "").split(), "load order matches the manifest")
    for want in ("virtio_ring", "virtio", "virtio_pci", "virtio_blk", "virtio_net",
                 "virtio_console", "virtio_rng"):
        check(want in order, f"module {want} is in the load order")
    loaded = set()
    for name in order:
        ko = files.get(f"lib/modules/{kver}/{name}.ko")
        if not check(ko is not None and ko[1][:4] == b"\x7fELF",
                     f"{name}.ko is an uncompressed ELF module"):
            continue
        info = modinfo(ko[1])
        check(info.get("name") == name and info.get("vermagic", "").startswith(kver + " "),
              f"{name}.ko says name={name}, vermagic {kver}")
        deps = [d for d in info.get("depends", "").split(",") if d]
        builtin = manifest.get("builtin", "").split()
        check(all(d in loaded or d in builtin for d in deps),
              f"{name} comes after its dependencies {deps}")
        loaded.add(name)


def check_sums(outdir, manifest):
    for name in ("vmlinuz", "vmlinux", "initramfs.cpio.gz"):
        h = hashlib.sha256()
        with open(os.path.join(outdir, name), "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        check(h.hexdigest() == manifest["sha256"].get(name), f"{name} has the manifest's sha256")


def run_qemu(outdir, kernel, machine, qemu_args, append, timeout):
    """Runs QEMU on OUTDIR/KERNEL; returns (marker lines, {event: seconds from
    QEMU's start}, exit code or None on timeout). Events: kernel (its
    "Linux version" banner), start, done, exit."""
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-M", machine,
           "-kernel", os.path.join(outdir, kernel),
           "-initrd", os.path.join(outdir, "initramfs.cpio.gz"),
           "-append", append, "-nographic", "-no-reboot"] + qemu_args
    print("     " + " ".join(cmd), flush=True)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    buf = b""
    transcript = b""
    markers = []
    times = {}
    deadline = t0 + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            p.kill()
            p.wait()
            print("FAIL QEMU did not exit within %d s; console:" % timeout)
            print(transcript.decode("utf-8", "replace")[-6000:])
            return markers, times, None
        r, _, _ = select.select([p.stdout], [], [], min(left, 1.0))
        if not r:
            continue
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        transcript += chunk
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            text = line.decode("utf-8", "replace").rstrip("\r")
            now = time.monotonic() - t0
            if "kernel" not in times and "Linux version" in text:
                times["kernel"] = now
            m = re.search(r"VIREO-INIT: (.*)$", text)
            if m:
                markers.append(m.group(1))
                if m.group(1) in ("start", "done"):
                    times.setdefault(m.group(1), now)
    rc = p.wait()
    times["exit"] = time.monotonic() - t0
    print("     seconds from QEMU start: " +
          ", ".join(f"{k} {v:.2f}" for k, v in times.items()), flush=True)
    if "done" not in markers:
        print("     console:")
        print(transcript.decode("utf-8", "replace")[-6000:])
    return markers, times, rc


def marker_value(markers, prefix):
    for m in markers:
        if m.startswith(prefix):
            return m[len(prefix):]
    return None


def boot(outdir, timeout):
    with tempfile.TemporaryDirectory(prefix="vireo-debian-guest-") as tmp:
        disk = os.path.join(tmp, "disk.raw")
        content = os.urandom(1 << 20)
        with open(disk, "wb") as f:
            f.write(content)
        sha4k = hashlib.sha256(content[:4096]).hexdigest()
        sha8k = hashlib.sha256(content[:8192]).hexdigest()
        mac = "52:54:00:" + ":".join(f"{b:02x}" for b in os.urandom(3))

        print("boot 1: 2 CPUs, 512 MiB, virtio disk, NIC and rng", flush=True)
        append = (f"console=ttyS0 reboot=k panic=-1 vireo.disk_sha256={sha4k} vireo.mac={mac}")
        markers, times, rc = run_qemu(outdir, "vmlinuz", "pc", [
            "-m", "512", "-smp", "2",
            "-drive", f"file={disk},if=virtio,format=raw",
            "-nic", f"user,model=virtio-net-pci,mac={mac},restrict=on",
            "-device", "virtio-rng-pci"], append, timeout)
        if "start" in times:
            print(f"TCG baseline (bzImage): QEMU start to 'VIREO-INIT: start' "
                  f"{times['start']:.2f} s", flush=True)
        check("start" in times, "guest init printed 'VIREO-INIT: start'")
        check(rc == 0, f"QEMU exited by itself with status 0 (got {rc})")
        cm = marker_value(markers, "cpus=") or ""
        mm = re.match(r"(\d+) mem_kb=(\d+)$", cm)
        check(mm is not None and mm.group(1) == "2", f"guest sees 2 CPUs (cpus={cm})")
        check(mm is not None and 400000 < int(mm.group(2)) <= 512 * 1024,
              f"guest MemTotal fits 512 MiB (cpus={cm})")
        insmods = [m for m in markers if m.startswith("insmod ")]
        check(insmods and all(m.endswith(" ok") for m in insmods),
              f"every module loaded ({len(insmods)} insmod lines)")
        check(f"disk sha256={sha4k} bytes=4096 size={1 << 20}" in markers,
              "guest read the disk's first 4 KiB with the right hash and size")
        check("disk ok" in markers, "disk ok")
        check(f"mac={mac}" in markers and "mac ok" in markers, f"mac ok ({mac})")
        check("rng ok" in markers, "rng ok")
        check("exit=poweroff" in markers, "init powers off through ACPI")
        check(markers[-1:] == ["done"], "init ended with 'VIREO-INIT: done'")

        print("boot 2: the extracted vmlinux (PVH entry), no ACPI, 1 CPU, 256 MiB, "
              "wrong disk hash, no NIC, no rng", flush=True)
        append = (f"console=ttyS0 reboot=k panic=-1 vireo.disk_sha256={sha4k} "
                  f"vireo.disk_bytes=8192 vireo.mac={mac}")
        markers, times, rc = run_qemu(outdir, "vmlinux", "pc,acpi=off", [
            "-m", "256", "-smp", "1",
            "-drive", f"file={disk},if=virtio,format=raw",
            "-nic", "none"], append, timeout)
        if "start" in times:
            print(f"TCG baseline (vmlinux, PVH): QEMU start to 'VIREO-INIT: start' "
                  f"{times['start']:.2f} s", flush=True)
        check("start" in times, "the extracted vmlinux booted to init")
        check(rc == 0, f"QEMU exited by itself with status 0 (got {rc})")
        cm = marker_value(markers, "cpus=") or ""
        check(cm.startswith("1 "), f"guest sees 1 CPU (cpus={cm})")
        check(f"disk sha256={sha8k} bytes=8192 size={1 << 20}" in markers,
              "guest hashed vireo.disk_bytes=8192 bytes")
        check("disk mismatch" in markers, "disk mismatch")
        check("mac absent" in markers, "mac absent")
        check("rng absent" in markers, "rng absent")
        check("exit=reboot" in markers, "init resets (reboot=k) without ACPI")
        check(markers[-1:] == ["done"], "init ended with 'VIREO-INIT: done'")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["artifacts", "boot"])
    ap.add_argument("--repo", default=os.path.normpath(os.path.join(here, "..", "..")))
    ap.add_argument("--outdir", default=os.environ.get("VIREO_DEBIAN_GUEST_DIR"))
    ap.add_argument("--timeout", type=int, default=240, help="seconds per QEMU run")
    args = ap.parse_args()
    outdir = args.outdir or os.path.join(args.repo, ".cache", "debian-guest")

    build(args.repo, outdir)
    manifest = read_manifest(outdir)
    print(f"kernel {manifest.get('kernel')}: {manifest.get('kernel_version')}")
    if args.mode == "artifacts":
        check_sums(outdir, manifest)
        check_bzimage(os.path.join(outdir, "vmlinuz"), manifest)
        check_vmlinux(os.path.join(outdir, "vmlinux"), manifest)
        check_initramfs(os.path.join(outdir, "initramfs.cpio.gz"), manifest)
    else:
        boot(outdir, args.timeout)
    if failures:
        print(f"{len(failures)} check(s) failed:")
        for f in failures:
            print("  " + f)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
