#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Crash test: a writer doing random writes, zeroes, discards and flushes on a
qcow2 image through the block layer is killed with SIGKILL at random moments,
many times over the same image. After each kill:
  - qemu-img check and vireo-img check find no corruption (leaks allowed);
  - every write completed before the last completed flush reads back intact;
  - from time to time `vireo-img check -r leaks` repairs the leaks, after which
    qemu-img check finds the image clean.
With lazy refcounts the image is dirty after a kill: opening it writable
repairs the refcounts (as qemu does), then the same holds.

usage: test_img_crash.py VIREO_IMG IMG_WRITER [ITERATIONS]
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imglib  # noqa: E402
from imglib import QEMU_IMG, run  # noqa: E402

MB = 1 << 20


def verify(img, log, base, size):
    """Checks that everything flushed in this round is on disk."""
    data, maybe, last_flush = imglib.expected_from_log(log, size)
    # start from what the image held before this round
    ops_before = bytearray(base)
    with open(log) as f:
        lines = [l.split() for l in f if l.strip()]
    for p in lines:
        if len(p) == 4 and int(p[3]) < last_flush:
            kind, off, ln, i = p[0], int(p[1]), int(p[2]), int(p[3])
            if kind == "W":
                for s in range(ln // 512):
                    sec = off // 512 + s
                    ops_before[sec * 512:(sec + 1) * 512] = bytes([imglib.pattern(i, sec)]) * 512
            else:
                ops_before[off:off + ln] = bytes(ln)
    got = imglib.qemu_raw(img)
    assert len(got) == size
    bad = 0
    # whole-image fast path, then per sector where they differ
    if got != bytes(ops_before):
        for sec in range(size // 512):
            if maybe[sec]:
                continue
            if got[sec * 512:(sec + 1) * 512] != ops_before[sec * 512:(sec + 1) * 512]:
                bad += 1
                if bad < 5:
                    print("  sector %d differs (flushed up to op %d)" % (sec, last_flush))
    assert bad == 0, "%d flushed sectors lost" % bad
    return got


def check_rc(tool, img):
    p = run([tool, "check", img], check=False)
    return p.returncode, p.stdout + p.stderr


def crash_rounds(vimg, writer, d, opts, rounds, rng, lazy=False):
    img = os.path.join(d, "crash.qcow2")
    size = 16 * MB
    cluster = 65536
    for kv in opts.split(","):
        if kv.startswith("cluster_size="):
            cluster = int(kv.split("=")[1].replace("k", "")) * (1024 if "k" in kv else 1)
    run([vimg, "create", "-q", "-f", "qcow2", "-o", opts, img, "16M"])
    base = bytes(size)
    leaks_seen = 0
    for r in range(rounds):
        log = os.path.join(d, "log%d" % r)
        p = subprocess.Popen([writer, img, log, str(rng.randrange(1 << 30)), "1000000",
                              str(cluster)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.01, 0.25))
        p.send_signal(signal.SIGKILL)
        _, err = p.communicate()
        if p.returncode not in (-signal.SIGKILL,):
            raise AssertionError("writer ended with %s: %s" % (p.returncode, err))
        if not os.path.exists(log):
            continue
        if lazy:
            # A dirty image is repaired when opened writable.
            rc, out = check_rc(vimg, img)
            run([vimg, "check", "-r", "all", img], check=False)
        for tool in (QEMU_IMG, vimg):
            rc, out = check_rc(tool, img)
            assert rc in (0, 3), "round %d: %s check found corruption (rc %d):\n%s" % (
                r, os.path.basename(tool), rc, out[-2000:])
            if rc == 3:
                leaks_seen += 1
        base = verify(img, log, base, size)
        os.unlink(log)
        if r % 7 == 6:
            run([vimg, "check", "-r", "leaks", img], check=False)
            rc, out = check_rc(QEMU_IMG, img)
            assert rc == 0, "after repair: qemu-img check rc %d\n%s" % (rc, out[-2000:])
    return leaks_seen


def main():
    vimg, writer = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    rng = random.Random(int(os.environ.get("VIREO_CRASH_SEED", "12345")))
    passed = failed = 0
    for opts, lazy in (("cluster_size=64k", False), ("cluster_size=4k", False),
                       ("cluster_size=512,refcount_bits=8", False),
                       ("compat=0.10", False), ("lazy_refcounts=on", True)):
        d = tempfile.mkdtemp(prefix="vireo-crash-")
        try:
            t0 = time.time()
            leaks = crash_rounds(vimg, writer, d, opts, rounds, rng, lazy)
            print("ok   %s: %d kills, %d rounds with leaks (%.1fs)" % (opts, rounds, leaks,
                                                                     time.time() - t0))
            passed += 1
        except Exception as e:  # noqa: BLE001
            print("FAIL %s: %s" % (opts, e))
            failed += 1
        finally:
            shutil.rmtree(d, ignore_errors=True)
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
