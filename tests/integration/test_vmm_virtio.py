#!/usr/bin/python3
"""vireo-vmm's virtio devices (virtio-pci, virtio-rng, virtio-console) driven by
testos's own virtio drivers, with real vireo-vmm processes on /dev/kvm.

Run one case: test_vmm_virtio.py CASE. The cases that need a testos mode
(rng, console, hostile) skip with status 77 when the testos in the build does
not have that mode yet; VIREO_TESTOS=path/to/testos.elf runs them with
another testos build.
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from vmmtest import (EXIT_OK, EXIT_USAGE, PASS, TESTOS_ELF, VMM, Vmm, check, finish,  # noqa: E402
                     run_vmm)

TESTOS = os.environ.get("VIREO_TESTOS", TESTOS_ELF)
SKIP = 77
CASES = {}


def case(fn):
    CASES[fn.__name__.replace("_", "-")] = fn
    return fn


def need_mode(mode):
    """Skips the case unless testos has MODE."""
    status, serial, _ = run_vmm(["--kernel", TESTOS, "--cmdline", f"mode={mode} bogus=1",
                                 "--mem", "32"], timeout=30)
    if f"unknown mode {mode}" in serial:
        print(f"SKIP: {TESTOS} has no '{mode}' mode yet (set VIREO_TESTOS to a testos that has)")
        sys.exit(SKIP)


def api(sock_path, request):
    """One request on the control socket at SOCK_PATH; the decoded reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(sock_path)
        s.sendall(json.dumps(request).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf)


def virtio_stats(sock_path):
    """The "virtio" part of the API's stats, by device name."""
    return {d["name"]: d for d in api(sock_path, {"cmd": "stats"})["virtio"]}


@case
def pci_enumeration():
    """The devices are on PCI bus 0 with the modern IDs, class codes and a BAR below 4 GiB."""
    status, serial, _ = run_vmm(["--kernel", TESTOS, "--cmdline", "pci", "--rng",
                                 "--console", "none"])
    check(status == PASS, f"testos pci passed (status {status})")
    funcs = re.findall(r"pci: 00:(\w\w)\.0 (\w{4}):(\w{4}) class (\w{6})(?: bar0=0x(\w+))?", serial)
    check(len(funcs) == 2, f"host bridge and virtio-rng only: {funcs}")
    status, serial, _ = run_vmm(["--kernel", TESTOS, "--cmdline", "pci", "--rng",
                                 "--console", "file:/dev/null"])
    funcs = {f[2]: f for f in re.findall(
        r"pci: 00:(\w\w)\.0 (\w{4}):(\w{4}) class (\w{6})(?: bar0=0x(\w+))?", serial)}
    check(status == PASS and "pci: 3 functions" in serial, f"3 functions (status {status})")
    for dev_id, cls, what in (("1044", "ff0000", "virtio-rng"), ("1043", "078000", "virtio-console")):
        f = funcs.get(dev_id)
        check(f is not None and f[1] == "1af4" and f[3] == cls, f"{what}: 1af4:{dev_id} class {cls}: {f}")
        check(f is not None and f[4] and 0xc0000000 <= int(f[4], 16) < 0xfec00000,
              f"{what}: BAR 0 in the 32-bit MMIO window: {f and f[4]}")
    status, serial, _ = run_vmm(["--kernel", TESTOS, "--cmdline", "pci"])
    check("pci: 1 functions" in serial, "no virtio device unless asked for")


@case
def stats():
    """The control API's stats list every virtio device with its state and counters."""
    vm = Vmm(["--kernel", TESTOS, "--cmdline", "counter", "--rng", "--console", "file:/dev/null"])
    try:
        check(vm.wait_serial("counter 1"), "guest running")
        devs = virtio_stats(vm.sock)
        check(sorted(devs) == ["console0", "rng0"], f"devices: {sorted(devs)}")
        rng = devs.get("rng0", {})
        check(rng.get("type") == "rng" and rng.get("driver_ok") is False and
              rng.get("needs_reset") is False and rng.get("pci_slot") == 1, f"rng0: {rng}")
        for key in ("notifications", "ignored_notifications", "interrupts", "errors", "resets",
                    "bad_accesses", "notify_mmio_exits", "msix_delivered", "requests", "bytes"):
            check(key in rng.get("counters", {}), f"rng0 counts {key}")
        con = devs.get("console0", {})
        check([q["size"] for q in con.get("queues", [])] == [256, 256], f"console0 queues: {con}")
        check("rx_bytes" in con.get("counters", {}), "console0 counts rx_bytes")
    finally:
        vm.close()


@case
def cli():
    """Bad --console values are refused with status 2; --help shows the options."""
    for value in ("bogus", "file:", "file:/nonexistent/dir/x"):
        status, _, log = run_vmm(["--kernel", TESTOS, "--console", value])
        check(status == EXIT_USAGE and "--console" in log, f"--console {value}: status {status}")
    out = subprocess.run([VMM, "--help"], capture_output=True, text=True).stdout
    check("--rng" in out and "--console" in out, "--help lists --rng and --console")


@case
def rng():
    """testos reads from virtio-rng: the bytes arrive and look random."""
    need_mode("rng")
    for nbytes in (1, 4096, 1 << 20):
        status, serial, log = run_vmm(["--kernel", TESTOS, "--cmdline", f"rng bytes={nbytes}",
                                       "--rng"])
        m = re.search(r"rng: bytes=(\d+) requests=(\d+) us=(\d+) kib_s=(\d+)", serial)
        check(status == PASS and m is not None and int(m.group(1)) == nbytes,
              f"{nbytes} bytes read (status {status}): {m and m.group(0)}")
        if nbytes >= 4096:
            check("rng: quality ok" in serial, f"{nbytes} bytes look random")
        check("needs a reset" not in log, "the device never broke")
    status, serial, _ = run_vmm(["--kernel", TESTOS, "--cmdline", "rng timeout_ms=500"])
    check(status != PASS and status & 1, f"without --rng testos finds no device (status {status})")


@case
def console():
    """hvc0 on stdio: the guest's line comes out, typed lines are echoed, 'quit' ends it."""
    need_mode("console")
    vm_dir = tempfile.TemporaryDirectory(prefix="vireo-test-")
    sock = os.path.join(vm_dir.name, "api.sock")
    serial = os.path.join(vm_dir.name, "serial.log")
    p = subprocess.Popen([VMM, "--kernel", TESTOS, "--cmdline", "console timeout_ms=20000",
                          "--console", "stdio", "--serial", "file:" + serial, "--api-sock", sock],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out = b""
        deadline = time.time() + 20
        while b"hello from testos" not in out and time.time() < deadline and p.poll() is None:
            out += os.read(p.stdout.fileno(), 4096)
        check(b"console: hello from testos\n" in out, f"the guest's line on stdout: {out!r}")
        p.stdin.write(b"hello vireo\nline two\n")
        p.stdin.flush()
        while out.count(b"console: echo") < 2 and time.time() < deadline:
            out += os.read(p.stdout.fileno(), 4096)
        check(b"console: echo hello vireo\n" in out and b"console: echo line two\n" in out,
              f"lines echoed through hvc0: {out!r}")
        con = virtio_stats(sock)["console0"]
        c = con["counters"]
        check(con["driver_ok"] and not con["needs_reset"], f"console0 running: {con['status']}")
        check(c["rx_bytes"] == len(b"hello vireo\nline two\n"), f"rx_bytes {c['rx_bytes']}")
        check(c["tx_bytes"] >= len(b"console: hello from testos\n"), f"tx_bytes {c['tx_bytes']}")
        check(c["notifications"] >= 3 and c["notify_mmio_exits"] == 0,
              f"kicks arrive through the ioeventfd, not vCPU exits: {c}")
        # Paused: typed input waits outside the guest, and comes in on resume.
        r = api(sock, {"cmd": "pause"})
        check(r["ok"] and r["state"] == "paused", f"pause: {r}")
        p.stdin.write(b"while paused\n")
        p.stdin.flush()
        time.sleep(0.3)
        rx = virtio_stats(sock)["console0"]["counters"]["rx_bytes"]
        check(rx == c["rx_bytes"], f"no input reached the guest while paused ({rx})")
        check(api(sock, {"cmd": "resume"})["ok"], "resume")
        while b"echo while paused" not in out and time.time() < deadline:
            out += os.read(p.stdout.fileno(), 4096)
        check(b"console: echo while paused\n" in out, "the input came in after resume")
        p.stdin.write(b"quit\n")
        p.stdin.flush()
        rest, err = p.communicate(timeout=20)
        out += rest
        check(b"console: echo quit" in out, "quit echoed")
        check(p.returncode == PASS, f"the guest passed (status {p.returncode})")
        check("console: lines=4" in open(serial).read(), "the serial port saw the same lines")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        vm_dir.cleanup()


@case
def console_file():
    """hvc0 to a file: what the guest writes lands there; no input needed to run."""
    need_mode("console")
    out_dir = tempfile.TemporaryDirectory(prefix="vireo-test-")
    path = os.path.join(out_dir.name, "hvc0.log")
    vm = Vmm(["--kernel", TESTOS, "--cmdline", "console", "--console", "file:" + path])
    try:
        check(vm.wait_serial("console: sent hello"), "the guest sent its line")
        deadline = time.time() + 5
        while time.time() < deadline and "hello" not in open(path).read():
            time.sleep(0.02)
        check(open(path).read() == "console: hello from testos\n", f"hvc0 output: {open(path).read()!r}")
        r = vm.request({"cmd": "stop"})
        status, _ = vm.wait()
        check(r["ok"] and status == EXIT_OK, f"stopped cleanly (status {status})")
    finally:
        vm.close()
        out_dir.cleanup()


@case
def hostile():
    """testos misprograms virtio-rng step by step: the VMM survives every step and the
    device works again after each reset; broken rings mark it DEVICE_NEEDS_RESET."""
    need_mode("hostile")
    vm = Vmm(["--kernel", TESTOS, "--cmdline", "hostile dev=rng", "--rng"])
    try:
        status, log = vm.wait(timeout=60)
        serial = vm.serial()
        steps = re.findall(r"hostile: step (\d+) (\S+) -> (\S+)", serial)
        m = re.search(r"hostile: steps=(\d+) ok=(\d+) needs_reset=(\d+) unresponsive=(\d+)", serial)
        check(status == PASS, f"testos hostile passed (status {status})")
        check(m is not None and int(m.group(1)) == len(steps) > 20, f"summary: {m and m.group(0)}")
        check(m is not None and m.group(4) == "0", "no step left the device unresponsive")
        expect_reset = ("desc_addr_outside_ram", "desc_addr_straddles_ram_end", "desc_addr_wraps_64bit",
                        "desc_loop", "chain_longer_than_queue", "desc_next_out_of_range",
                        "avail_head_out_of_range", "avail_idx_jump", "indirect_nested",
                        "indirect_len_not_multiple_of_16", "indirect_loop", "queue_size_not_pow2",
                        "driver_ok_without_features_ok")
        got = {name: outcome for _, name, outcome in steps}
        for name in expect_reset:
            check(got.get(name, "needs_reset") == "needs_reset", f"{name}: {got.get(name)}")
        check(got.get("notify_missing_queue") in (None, "ok"), "a kick for a missing queue is ignored")
        check("needs a reset" in log, "the VMM logged why")
        check(not re.search(r"AddressSanitizer|runtime error", log), "no sanitizer report")
    finally:
        vm.close()


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print("usage: test_vmm_virtio.py " + "|".join(CASES))
        sys.exit(2)
    CASES[sys.argv[1]]()
    finish()


if __name__ == "__main__":
    main()
