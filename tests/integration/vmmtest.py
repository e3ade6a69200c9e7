"""Helpers for tests that run vireo-vmm for real: paths, running, the control API.

Tests run with /usr/bin/python3 from meson, which sets VIREO_BUILD (the build
directory) and VIREO_SOURCE (the source tree).
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("VIREO_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
SOURCE = os.environ.get("VIREO_SOURCE", os.path.join(os.path.dirname(__file__), "../.."))
VMM = os.path.join(BUILD, "vmm", "vireo-vmm")
TESTOS_ELF = os.path.join(BUILD, "guest", "testos", "testos.elf")
TESTOS_BZIMAGE = os.path.join(BUILD, "guest", "testos", "testos.bzImage")
PVH_EXIT = os.path.join(BUILD, "guest", "testos", "pvh-exit.elf")

# Exit statuses (vmm/exit_status.h, docs/vireo-vmm.md).
EXIT_OK, EXIT_USAGE, EXIT_BAD_IMAGE, EXIT_HOST = 0, 2, 4, 6
EXIT_INTERNAL_ERROR, EXIT_TRIPLE_FAULT, EXIT_VCPU_ERROR, EXIT_SANDBOX = 8, 10, 12, 14
PASS = 1  # testos's debug-exit "passed": (0 << 1) | 1

failures = []


def check(cond, what):
    """Records one check; the test fails at the end if any failed."""
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def finish():
    if failures:
        print(f"{len(failures)} check(s) failed", flush=True)
        sys.exit(1)
    print("all checks passed", flush=True)
    sys.exit(0)


def vmm_env(args):
    """The environment for a VMM run. LeakSanitizer's exit-time scan needs ptrace and
    /proc, which the sandbox forbids: sandboxed runs in the sanitizer build skip it."""
    env = dict(os.environ)
    if "--sandbox" in args:
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    return env


def run_vmm(args, timeout=60, stdin=subprocess.DEVNULL):
    """Runs vireo-vmm to the end; returns (status, serial output, log output)."""
    p = subprocess.run([VMM] + args, stdin=stdin, capture_output=True, timeout=timeout,
                       env=vmm_env(args))
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


class Vmm:
    """A vireo-vmm running in the background with its control socket."""

    def __init__(self, args, api=True):
        self.dir = tempfile.TemporaryDirectory(prefix="vireo-test-")
        self.sock = os.path.join(self.dir.name, "api.sock")
        self.serial_path = os.path.join(self.dir.name, "serial.log")
        full = [VMM] + args + ["--serial", "file:" + self.serial_path]
        if api:
            full += ["--api-sock", self.sock]
        self.proc = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=vmm_env(args))
        if api:
            deadline = time.time() + 10
            while not os.path.exists(self.sock):
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("vireo-vmm did not create its control socket")
                time.sleep(0.005)

    def serial(self):
        try:
            with open(self.serial_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:  # the VMM has not opened it yet
            return ""


    def wait_serial(self, text, timeout=30):
        """Waits until TEXT appears on the serial port; returns whether it did."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.serial():
                return True
            if self.proc.poll() is not None:
                return text in self.serial()
            time.sleep(0.02)
        return False

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        for _ in range(100):
            try:
                s.connect(self.sock)
                return s
            except BlockingIOError:  # the listen backlog is full: retry, as a client would
                time.sleep(0.01)
        raise RuntimeError("cannot connect to the control socket")

    def request(self, obj, conn=None):
        """Sends one request (a dict or raw bytes) and returns the decoded reply."""
        own = conn is None
        s = conn or self.connect()
        try:
            data = obj if isinstance(obj, bytes) else json.dumps(obj).encode() + b"\n"
            s.sendall(data)
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            return json.loads(buf) if buf else None
        finally:
            if own:
                s.close()

    def wait(self, timeout=30):
        """Waits for the VMM to exit; returns (status, log output)."""
        try:
            err = self.proc.communicate(timeout=timeout)[1]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            err = self.proc.communicate()[1]
            return None, err.decode(errors="replace")
        return self.proc.returncode, err.decode(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.dir.cleanup()
