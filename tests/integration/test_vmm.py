#!/usr/bin/python3
"""vireo-vmm driven the way a script or the host agent drives it, with testos.

Run one case: test_vmm.py CASE. Each case starts real vireo-vmm processes on
/dev/kvm and checks what the guest printed, the exit status and the control API.
"""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from vmmtest import (EXIT_BAD_IMAGE, EXIT_HOST, EXIT_OK, EXIT_SANDBOX, EXIT_TRIPLE_FAULT, EXIT_USAGE,  # noqa: E402
                     PASS, PVH_EXIT, TESTOS_BZIMAGE, TESTOS_ELF, VMM, Vmm, check, finish, run_vmm, vmm_env)

CASES = {}


def case(fn):
    CASES[fn.__name__.replace("_", "-")] = fn
    return fn


def hello_line(serial):
    m = re.search(r"testos: hello boot=(\S+) mem_mib=(\d+) cpus=(\d+) cmdline=\"(.*)\"", serial)
    return m.groups() if m else None


@case
def boot_paths():
    """Each boot path enters testos, which sees our memory, CPUs and command line."""
    for kernel, proto, expect in ((TESTOS_ELF, "auto", "pvh"), (TESTOS_ELF, "pvh", "pvh"),
                                  (TESTOS_ELF, "linux64", "linux64"),
                                  (TESTOS_BZIMAGE, "auto", "linux64")):
        cmdline = "hello tag=%s" % proto
        status, serial, log = run_vmm(["--kernel", kernel, "--boot-protocol", proto,
                                       "--cmdline", cmdline, "--mem", "96", "--cpus", "3"])
        got = hello_line(serial)
        what = f"{os.path.basename(kernel)} --boot-protocol {proto}"
        check(status == EXIT_OK, f"{what}: powered off (status {status})")
        check(got is not None and got[0] == expect, f"{what}: entered through {expect}: {got}")
        check(got is not None and 94 <= int(got[1]) <= 96, f"{what}: saw 96 MiB")
        check(got is not None and got[2] == "3", f"{what}: saw 3 CPUs")
        check(got is not None and got[3] == cmdline, f"{what}: saw the command line")
    status, _, _ = run_vmm(["--kernel", PVH_EXIT])
    check(status == PASS, f"the minimal PVH payload exits through port 0xf4 (status {status})")


@case
def initrd():
    """The initrd arrives whole, in RAM, above the kernel, through every boot path."""
    import tempfile
    data = os.urandom(1500001)
    fnv = 2166136261
    for b in data:
        fnv = ((fnv ^ b) * 16777619) & 0xffffffff
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        for kernel, proto in ((TESTOS_ELF, "pvh"), (TESTOS_ELF, "linux64"), (TESTOS_BZIMAGE, "auto")):
            status, serial, _ = run_vmm(["--kernel", kernel, "--boot-protocol", proto, "--initrd", f.name,
                                         "--cmdline", "hello verbose=1", "--mem", "64"])
            m = re.search(r"hello: initrd 0x([0-9a-f]+) size (\d+) fnv1a 0x([0-9a-f]+)", serial)
            what = f"{os.path.basename(kernel)} {proto}"
            check(status == EXIT_OK and m is not None, f"{what}: the guest found the initrd")
            if m:
                addr, size, got = int(m.group(1), 16), int(m.group(2)), int(m.group(3), 16)
                check(size == len(data) and got == fnv, f"{what}: every byte arrived")
                check(addr % 4096 == 0 and 0x200000 <= addr and addr + size <= 64 << 20,
                      f"{what}: page-aligned, above the kernel, inside RAM (0x{addr:x})")


@case
def high_memory():
    """RAM above 3 GiB is placed above 4 GiB and the guest sees all of it."""
    status, serial, _ = run_vmm(["--kernel", TESTOS_ELF, "--cmdline", "hello", "--mem", "4608"])
    got = hello_line(serial)
    check(status == EXIT_OK and got is not None and 4600 <= int(got[1]) <= 4608,
          f"a 4.5 GiB guest sees its memory: {got}")


@case
def smp():
    """Application processors start the normal way (INIT/SIPI) on 1 to 64 vCPUs."""
    for n in (1, 2, 4, 16, 64):
        status, serial, _ = run_vmm(["--kernel", TESTOS_ELF, "--cmdline", "smp", "--cpus", str(n)])
        check(status == PASS and f"smp: {n} of {n} cpus running" in serial,
              f"{n} vCPUs all running (status {status})")
        counts = re.findall(r"smp: cpu \d+ apic=\d+ count=(\d+)", serial)
        check(len(counts) == n and all(int(c) > 0 for c in counts[1:]),
              f"every AP counted: {counts}")


@case
def counter_pause_resume():
    """Pausing stops the guest; after resume the counter goes on without a skip."""
    vm = Vmm(["--kernel", TESTOS_ELF, "--cmdline", "counter", "--cpus", "2"])
    try:
        check(vm.wait_serial("counter 3"), "the counter runs")
        r = vm.request({"cmd": "pause", "id": 41})
        check(r == {"ok": True, "id": 41, "state": "paused"}, f"pause: {r}")
        frozen = vm.serial()
        time.sleep(0.5)
        check(vm.serial() == frozen, "no output while paused")
        stats = vm.request({"cmd": "stats"})
        check(stats["ok"] and all(v["state"] == "paused" for v in stats["vcpus"]),
              "every vCPU reported paused")
        check(stats["vcpus"][1].get("mp_state") is not None, "KVM's vCPU state shown while paused")
        r = vm.request({"cmd": "resume"})
        check(r["ok"] and r["state"] == "running", f"resume: {r}")
        last = int(re.findall(r"counter (\d+)", frozen)[-1])
        check(vm.wait_serial(f"counter {last + 5}"), "the counter goes on after resume")
        values = [int(v) for v in re.findall(r"counter (\d+)", vm.serial())]
        check(values == list(range(len(values))), "no value skipped or repeated")
        r = vm.request({"cmd": "stop"})
        status, log = vm.wait()
        check(r["ok"] and status == EXIT_OK, f"stop through the API exits 0 (status {status})")
        check("stopped through the control API" in log, "the reason is logged")
    finally:
        vm.close()


@case
def status_and_stats():
    vm = Vmm(["--kernel", TESTOS_ELF, "--cmdline", "counter", "--mem", "64", "--name", "web01"])
    try:
        check(vm.wait_serial("counter 1"), "guest running")
        s = vm.request({"cmd": "status"})
        check(s["ok"] and s["name"] == "web01" and s["vcpus"] == 1 and s["memory_mib"] == 64
              and s["state"] == "running" and s["boot_protocol"] == "pvh", f"status: {s}")
        st = vm.request({"cmd": "stats"})
        check(st["exits"]["io"] > 0, f"port I/O exits counted: {st['exits']}")
        m = st["memory"]
        check(m["guest_mib"] == 64 and 0 < m["guest_resident_kib"] <= 64 * 1024, f"memory: {m}")
        check(0 < m["vmm_rss_kib"] < 64 * 1024, "the VMM's own memory is reported")
    finally:
        vm.close()


@case
def ctrl_alt_del():
    """The API types ctrl-alt-del on the guest's keyboard; testos then powers off."""
    vm = Vmm(["--kernel", TESTOS_ELF, "--cmdline", "counter"])
    try:
        check(vm.wait_serial("counter 2"), "guest running")
        check(vm.request({"cmd": "ctrl-alt-del"})["ok"], "request accepted")
        status, log = vm.wait()
        check("counter: ctrl-alt-del" in vm.serial(), "the guest saw ctrl-alt-del")
        check(status == EXIT_OK and "reset" in log, f"the guest reset the machine (status {status})")
    finally:
        vm.close()


@case
def serial_input():
    """Bytes written to stdin reach the guest's UART; what it sends comes back on stdout."""
    p = subprocess.Popen([VMM, "--kernel", TESTOS_ELF, "--cmdline", "echo"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = b""
    deadline = time.time() + 20
    while b"echo: ready" not in out and time.time() < deadline:
        out += os.read(p.stdout.fileno(), 4096)
    p.stdin.write(b"hello vireo\nquit\n")
    p.stdin.flush()
    rest, _ = p.communicate(timeout=20)
    out += rest
    check(b"echo: hello vireo" in out and b"echo: quit" in out, f"lines echoed: {out[-200:]!r}")
    check(p.returncode == PASS, f"the guest passed (status {p.returncode})")


@case
def console_socket():
    """--serial unix:PATH: every client gets the scrollback and the live output; input from
    any client reaches the guest; a client that stops reading does not stall the guest."""
    import socket as socketlib
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "console.sock")
        p = subprocess.Popen([VMM, "--kernel", TESTOS_ELF, "--cmdline", "echo", "--serial", "unix:" + path],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def connect():
            for _ in range(500):
                try:
                    s = socketlib.socket(socketlib.AF_UNIX)
                    s.settimeout(10)
                    s.connect(path)
                    return s
                except (FileNotFoundError, ConnectionRefusedError):
                    time.sleep(0.01)
            raise RuntimeError("no console socket")

        def read_until(s, text):
            buf = b""
            while text not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
            return buf

        a = connect()
        check(b"echo: ready" in read_until(a, b"echo: ready"), "the first client sees the guest's output")
        idle = connect()  # never reads: must not stall anything
        b = connect()
        check(b"echo: ready" in read_until(b, b"echo: ready"), "a later client gets the scrollback")
        a.sendall(b"from a\n")
        check(b"echo: from a" in read_until(b, b"echo: from a"), "input from one client, output to all")
        a.sendall(b"x" * 3000 + b"\n")  # more than the UART's FIFO: back-pressure, no loss
        got = read_until(b, b"x" * 100 + b"\r\n")
        check(b"echo: " + b"x" * 127 in got, "a long line arrives whole (testos keeps 127 bytes)")
        b.sendall(b"quit\n")
        p.wait(timeout=20)
        check(p.returncode == PASS, f"the guest passed ({p.returncode})")
        check(not os.path.exists(path), "the socket is removed at exit")
        for s in (a, b, idle):
            s.close()


@case
def exit_statuses():
    """Every way a VMM run can end has its documented status and one line saying why."""
    status, serial, log = run_vmm(["--kernel", TESTOS_ELF, "--cmdline", "hello exit=triple"])
    check(status == EXIT_TRIPLE_FAULT and "triple fault" in log, f"triple fault: {status}")
    status, serial, log = run_vmm(["--kernel", TESTOS_ELF, "--cmdline", "fault"])
    check(status == (2 << 1) | 1 and "FAIL exception #UD" in serial,
          f"a guest failure code comes through port 0xf4: {status}")
    for args, want, what in (
            (["--kernel", "/nonexistent"], EXIT_BAD_IMAGE, "missing kernel"),
            (["--kernel", "/etc/hostname"], EXIT_BAD_IMAGE, "not a kernel"),
            (["--kernel", TESTOS_BZIMAGE, "--cmdline", "x" * 5000], EXIT_BAD_IMAGE, "command line too long"),
            (["--kernel", TESTOS_ELF, "--initrd", "/nonexistent"], EXIT_BAD_IMAGE, "missing initrd"),
            (["--kernel", TESTOS_BZIMAGE, "--boot-protocol", "pvh"], EXIT_BAD_IMAGE, "PVH with a bzImage"),
            (["--kernel", TESTOS_ELF, "--mem", "900000"], EXIT_HOST, "more memory than the host has"),
            (["--kernel", TESTOS_ELF, "--mem", "2"], EXIT_USAGE, "too little memory"),
            (["--kernel", TESTOS_ELF, "--cpus", "65"], EXIT_USAGE, "too many vCPUs"),
            (["--kernel", TESTOS_ELF, "--bogus"], EXIT_USAGE, "unknown option"),
            (["--cmdline", "hello"], EXIT_USAGE, "no kernel")):
        status, _, log = run_vmm(args)
        last = log.strip().splitlines()[-1] if log.strip() else ""
        check(status == want, f"{what}: status {status} (want {want}): {last}")


@case
def truncated_and_corrupt_kernels():
    """Every prefix and many corruptions of real kernels are refused cleanly (status 4)."""
    import random
    import tempfile
    rnd = random.Random(1234)
    with tempfile.TemporaryDirectory() as d:
        for src in (TESTOS_ELF, TESTOS_BZIMAGE):
            data = open(src, "rb").read()
            for i in range(12):
                bad = bytearray(data[:rnd.randrange(1, len(data))] if i < 6 else data)
                for _ in range(0 if i < 6 else 8):
                    bad[rnd.randrange(0, min(len(bad), 2048))] = rnd.randrange(256)
                path = os.path.join(d, "k")
                open(path, "wb").write(bad)
                status, _, log = run_vmm(["--kernel", path, "--cmdline", "hello"], timeout=20)
                check(status in (EXIT_OK, EXIT_BAD_IMAGE, EXIT_TRIPLE_FAULT, 8) or status & 1,
                      f"{os.path.basename(src)} variant {i}: ended cleanly with {status}")


@case
def hostile_api_clients():
    """Malformed, oversized and too many requests get errors; the VM keeps running."""
    vm = Vmm(["--kernel", TESTOS_ELF, "--cmdline", "counter"])
    try:
        check(vm.wait_serial("counter 1"), "guest running")
        for raw in (b"not json\n", b"[1,2]\n", b'{"cmd":"reboot"}\n', b'{"cmd":"status","x":1}\n',
                    b'{"cmd":"status","cmd":"stop"}\n', b"\xff\xfe\n", b'{"cmd":' + b"[" * 3000 + b"\n"):
            r = vm.request(raw)
            check(r is not None and r["ok"] is False and r["error"], f"{raw[:30]!r}: {r and r['error']}")
        c = vm.connect()
        c.sendall(b"x" * 10000)
        reply = c.recv(4096)
        check(b"too long" in reply, "an oversized line gets an error")
        try:
            closed = c.recv(4096) == b""
        except ConnectionResetError:  # closed with our excess bytes unread
            closed = True
        check(closed, "and the connection is closed")
        conns = [vm.connect() for _ in range(16)]
        extra = vm.connect()
        check(b"too many connections" in extra.recv(4096), "the 17th client is refused")
        for sock in conns + [extra]:
            sock.close()
        time.sleep(0.1)
        r = vm.request({"cmd": "status"})
        check(r["ok"] and r["state"] == "running", "the VM still runs and answers")
    finally:
        vm.close()


SANDBOX_UID = 64321


@case
def sandbox():
    """With --sandbox the VMM runs unprivileged in an empty root under seccomp, the VM works,
    and a forbidden system call from any thread type stops it with status 14 and says so."""
    vm = Vmm(["--kernel", TESTOS_ELF, "--cmdline", "counter", "--cpus", "2",
              "--sandbox", f"{SANDBOX_UID}:{SANDBOX_UID}"])
    try:
        check(vm.wait_serial("counter 2"), "the guest runs in the sandbox")
        with open(f"/proc/{vm.proc.pid}/status") as f:
            ids = {k: v.split() for k, v in (line.split(":", 1) for line in f) if k in ("Uid", "Gid", "CapEff")}
        check(ids["Uid"] == [str(SANDBOX_UID)] * 4 and ids["Gid"] == [str(SANDBOX_UID)] * 4,
              f"real, effective, saved and fs ids dropped: {ids['Uid']} {ids['Gid']}")
        check(int(ids["CapEff"][0], 16) == 0, "no capabilities left")
        check(os.listdir(f"/proc/{vm.proc.pid}/root/") == [], "its root directory is empty")
        for cmd in ("stats", "status", "pause", "resume"):
            r = vm.request({"cmd": cmd})
            check(r["ok"], f"{cmd} works in the sandbox")
        check(vm.request({"cmd": "stats"})["memory"]["vmm_rss_kib"] > 0, "stats still read /proc")
        check(vm.request({"cmd": "stop"})["ok"], "stop")
        status, log = vm.wait()
        check(status == EXIT_OK, f"clean exit from the sandbox ({status})")
    finally:
        vm.close()
    for thread in ("vcpu", "control", "io"):
        status, _, log = run_vmm(["--kernel", TESTOS_ELF, "--cmdline", "rng", "--rng",
                                  "--sandbox", f"{SANDBOX_UID}:{SANDBOX_UID}", "--sandbox-selftest", thread])
        check(status == EXIT_SANDBOX and f"a thread of type {thread} made the forbidden system call 41" in log,
              f"a forbidden call from a {thread} thread stops the VMM with status 14 ({status})")
    status, serial, _ = run_vmm(["--kernel", TESTOS_ELF, "--cmdline", "rng", "--rng", "--console", "file:/dev/null",
                                 "--sandbox", f"{SANDBOX_UID}:{SANDBOX_UID}"])
    check(status == PASS and "rng: quality ok" in serial, "virtio devices work in the sandbox")
    import socket as socketlib
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "console.sock")
        p = subprocess.Popen([VMM, "--kernel", TESTOS_ELF, "--cmdline", "echo", "--serial", "unix:" + path,
                              "--sandbox", f"{SANDBOX_UID}:{SANDBOX_UID}"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=vmm_env(["--sandbox"]))
        for _ in range(500):
            if os.path.exists(path):
                break
            time.sleep(0.01)
        c = socketlib.socket(socketlib.AF_UNIX)
        c.settimeout(10)
        c.connect(path)
        buf = b""
        while b"echo: ready" not in buf:
            buf += c.recv(4096)
        c.sendall(b"quit\n")
        p.wait(timeout=20)
        check(p.returncode == PASS, f"the console socket works in the sandbox ({p.returncode})")
        c.close()


@case
def signals():
    vm = Vmm(["--kernel", TESTOS_ELF, "--cmdline", "counter"], api=False)
    try:
        check(vm.wait_serial("counter 1"), "guest running")
        vm.proc.send_signal(signal.SIGTERM)
        status, log = vm.wait()
        check(status == EXIT_OK and "Terminated" in log, f"SIGTERM stops the VM cleanly ({status})")
    finally:
        vm.close()


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print("usage: test_vmm.py " + "|".join(CASES))
        sys.exit(2)
    CASES[sys.argv[1]]()
    finish()


if __name__ == "__main__":
    main()
