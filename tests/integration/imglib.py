# SPDX-License-Identifier: Apache-2.0
"""Shared helpers of the vireo-img integration tests (standard library only)."""
import json
import os
import random
import subprocess

QEMU_IMG = "qemu-img"
QEMU_IO = "qemu-io"


def run(cmd, check=True, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s%s" % (" ".join(map(str, cmd)), p.returncode,
                                                         p.stdout, p.stderr))
    return p


def qemu_raw(path, fmt=None):
    """The image's content, as qemu-img convert -O raw reads it."""
    out = path + ".qemu.raw"
    cmd = [QEMU_IMG, "convert"] + (["-f", fmt] if fmt else []) + ["-O", "raw", path, out]
    run(cmd)
    with open(out, "rb") as f:
        data = f.read()
    os.unlink(out)
    return data


def vireo_raw(vimg, path, fmt=None):
    out = path + ".vireo.raw"
    cmd = [vimg, "convert"] + (["-f", fmt] if fmt else []) + ["-O", "raw", path, out]
    run(cmd)
    with open(out, "rb") as f:
        data = f.read()
    os.unlink(out)
    return data


def qemu_io(path, *cmds, fmt=None):
    args = [QEMU_IO] + (["-f", fmt] if fmt else [])
    for c in cmds:
        args += ["-c", c]
    run(args + [path])


def random_writes(path, size, n, seed, fmt=None, cluster=65536, zero=True, discard=False):
    """Random pattern writes (and zero writes) through qemu-io."""
    rng = random.Random(seed)
    cmds = []
    for _ in range(n):
        off = rng.randrange(0, size // 512) * 512
        ln = min(rng.randrange(1, 128) * 512, size - off)
        k = rng.random()
        if zero and k < 0.1:
            cmds.append("write -z %d %d" % (off, ln))
        elif discard and k < 0.15:
            cmds.append("discard %d %d" % (off, ln))
        else:
            cmds.append("write -P %d %d %d" % (rng.randrange(1, 256), off, ln))
    # qemu-io takes many -c; batch to keep the command line short
    for i in range(0, len(cmds), 200):
        qemu_io(path, *cmds[i:i + 200], fmt=fmt)


def pattern(i, sector):
    return ((i * 7 + sector) % 251) + 1


def expected_from_log(log_path, size):
    """Rebuilds what img_writer's log says must be on disk.

    Returns (data, maybe): data is the content after every op up to the last
    completed flush; maybe marks bytes that later (possibly partial) ops touched.
    """
    ops = []
    last_flush = 0
    with open(log_path) as f:
        for line in f:
            p = line.split()
            if not p:
                continue
            if p[0] == "F" and len(p) == 2:
                last_flush = int(p[1])
            elif len(p) == 4:
                ops.append((p[0], int(p[1]), int(p[2]), int(p[3])))
    data = bytearray(size)
    maybe = bytearray(size // 512)
    for kind, off, ln, i in ops:
        if i < last_flush:
            if kind == "W":
                for s in range(ln // 512):
                    sec = off // 512 + s
                    data[sec * 512:(sec + 1) * 512] = bytes([pattern(i, sec)]) * 512
            else:
                data[off:off + ln] = bytes(ln)
        else:
            for s in range(ln // 512):
                maybe[off // 512 + s] = 1
    return data, maybe, last_flush


def info_json(cmd, path, extra=()):
    p = run([cmd, "info", "--output=json"] + list(extra) + [path])
    return json.loads(p.stdout)
