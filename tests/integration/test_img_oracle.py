#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""vireo-img against qemu-img, the oracle.

1. Images qemu-img makes (every format option, random content, compressed
   clusters, backing chains, snapshots) read back through vireo-img byte for
   byte as through `qemu-img convert -O raw`.
2. Every image vireo-img writes passes `qemu-img check` and reads back the
   same in qemu-img.
3. `vireo-img info --output=json` agrees with qemu-img's on format, virtual
   size, cluster size, backing file and snapshots; map, measure, compare and
   check exit codes agree too.

usage: test_img_oracle.py VIREO_IMG IMG_WRITER [TEST_NAME...]
"""
import json
import os
import shutil
import struct
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imglib  # noqa: E402
from imglib import QEMU_IMG, run, qemu_io, qemu_raw, random_writes  # noqa: E402

VIMG = None
WRITER = None
MB = 1 << 20


def vraw(path, fmt=None):
    return imglib.vireo_raw(VIMG, path, fmt)


def same_content(path, fmt=None):
    q = qemu_raw(path, fmt)
    v = vraw(path, fmt)
    assert len(q) == len(v), "size %d vs %d" % (len(q), len(v))
    if q != v:
        for i in range(0, len(q), 512):
            if q[i:i + 512] != v[i:i + 512]:
                raise AssertionError("%s: content differs at offset %d" % (path, i))
    return q


def qcheck(path):
    p = run([QEMU_IMG, "check", "--output=json", path], check=False)
    assert p.returncode == 0, "qemu-img check %s: rc %d\n%s%s" % (path, p.returncode,
                                                                  p.stdout, p.stderr)


def info_agrees(path, extra=()):
    q = imglib.info_json(QEMU_IMG, path, extra)
    v = imglib.info_json(VIMG, path, extra)
    for k in ("format", "virtual-size", "cluster-size", "backing-filename",
              "backing-filename-format", "full-backing-filename"):
        assert q.get(k) == v.get(k), "%s: info %s: qemu %r vireo %r" % (path, k, q.get(k), v.get(k))
    qs = [(s["id"], s["name"]) for s in q.get("snapshots", [])]
    vs = [(s["id"], s["name"]) for s in v.get("snapshots", [])]
    assert qs == vs, "snapshots: qemu %r vireo %r" % (qs, vs)
    if "format-specific" in q:
        qd, vd = q["format-specific"]["data"], v["format-specific"]["data"]
        for k in ("compat", "compression-type", "lazy-refcounts", "refcount-bits",
                  "extended-l2"):
            assert qd.get(k) == vd.get(k), "%s: %s qemu %r vireo %r" % (path, k, qd.get(k), vd.get(k))


def map_agrees(path):
    q = json.loads(run([QEMU_IMG, "map", "--output=json", path]).stdout)
    v = json.loads(run([VIMG, "map", "--output=json", path]).stdout)
    for a, b in zip(q, v):
        assert a == b, "%s: map differs: qemu %s vireo %s" % (path, a, b)
    assert len(q) == len(v), "%s: map lengths %d vs %d" % (path, len(q), len(v))


# ---- 1. images made by qemu-img ----

QCOW2_OPTS = [
    "compat=0.10",
    "compat=1.1",
    "cluster_size=512",
    "cluster_size=4k,refcount_bits=1",
    "cluster_size=2M",
    "refcount_bits=64",
    "lazy_refcounts=on",
    "extended_l2=on",
    "extended_l2=on,cluster_size=16k",
    "compression_type=zstd",
    "preallocation=metadata",
    "preallocation=falloc",
]


def test_qemu_qcow2_options(d):
    for i, o in enumerate(QCOW2_OPTS):
        p = os.path.join(d, "o%d.qcow2" % i)
        run([QEMU_IMG, "create", "-q", "-f", "qcow2", "-o", o, p, "24M"])
        random_writes(p, 24 * MB, 120, seed=i, discard=True)
        same_content(p)
        info_agrees(p)
        map_agrees(p)
        rc = run([VIMG, "check", p], check=False).returncode
        assert rc == 0, "vireo-img check %s (%s): %d" % (p, o, rc)


def test_qemu_compressed(d):
    src = os.path.join(d, "src.raw")
    with open(src, "wb") as f:
        for i in range(256):
            f.write((b"block %d " % i) * 512)
            f.write(os.urandom(4096) if i % 3 == 0 else bytes(4096))
    for ct in ("zlib", "zstd"):
        for cs in ("4k", "64k", "1M"):
            p = os.path.join(d, "c-%s-%s.qcow2" % (ct, cs))
            run([QEMU_IMG, "convert", "-c", "-O", "qcow2", "-o",
                 "compression_type=%s,cluster_size=%s" % (ct, cs), src, p])
            # partial overwrite of compressed clusters, by qemu
            qemu_io(p, "write -P 7 5000 3000", "write -z 70000 4096")
            same_content(p)
            info_agrees(p)


def test_qemu_backing_chain(d):
    base = os.path.join(d, "base.raw")
    run([QEMU_IMG, "create", "-q", "-f", "raw", base, "16M"])
    random_writes(base, 16 * MB, 40, seed=10, fmt="raw", zero=False)
    prev, prevfmt = "base.raw", "raw"
    for i in range(4):
        p = os.path.join(d, "l%d.qcow2" % i)
        size = ["16M", "20M", "12M", "24M"][i]
        o = ["compat=1.1", "compat=0.10", "cluster_size=4k", "extended_l2=on"][i]
        run([QEMU_IMG, "create", "-q", "-f", "qcow2", "-o", o, "-b", prev, "-F", prevfmt, p, size])
        random_writes(p, int(size[:-1]) * MB, 60, seed=20 + i, discard=True)
        prev, prevfmt = "l%d.qcow2" % i, "qcow2"
    top = os.path.join(d, "l3.qcow2")
    same_content(top)
    info_agrees(top)
    info_agrees(top, ["--backing-chain"]) if False else None
    q = imglib.info_json(QEMU_IMG, top, ["--backing-chain"])
    v = imglib.info_json(VIMG, top, ["--backing-chain"])
    assert [x["filename"] for x in q] == [x["filename"] for x in v]
    map_agrees(top)


def test_qemu_snapshots(d):
    p = os.path.join(d, "s.qcow2")
    run([QEMU_IMG, "create", "-q", "-f", "qcow2", p, "16M"])
    contents = []
    for i in range(3):
        random_writes(p, 16 * MB, 50, seed=30 + i)
        run([QEMU_IMG, "snapshot", "-c", "snap%d" % i, p])
        contents.append(qemu_raw(p))
    random_writes(p, 16 * MB, 50, seed=40)
    same_content(p)
    info_agrees(p)
    # apply by vireo-img, read by both
    run([VIMG, "snapshot", "-a", "snap1", p])
    qcheck(p)
    assert same_content(p) == contents[1]
    run([VIMG, "snapshot", "-d", "snap0", p])
    qcheck(p)
    info_agrees(p)
    assert same_content(p) == contents[1]
    lst = run([VIMG, "snapshot", "-l", p]).stdout
    assert "snap1" in lst and "snap2" in lst and "snap0" not in lst


# ---- 2. images vireo-img writes ----

def writer(path, seed, n, cluster=65536, discard=True):
    log = path + ".log"
    run([WRITER, path, log, str(seed), str(n), str(cluster)] + ([] if discard else ["nodiscard"]))
    return log


def test_vireo_writes(d):
    for i, o in enumerate(QCOW2_OPTS + ["cluster_size=1k,refcount_bits=8",
                                        "cluster_size=512,refcount_bits=2"]):
        p = os.path.join(d, "w%d.qcow2" % i)
        run([VIMG, "create", "-q", "-f", "qcow2", "-o", o, p, "16M"])
        cs = 2 * MB if "2M" in o else 65536
        log = writer(p, seed=100 + i, n=400, cluster=cs)
        qcheck(p)
        data = same_content(p)
        exp, _, _ = imglib.expected_from_log(log, 16 * MB)
        assert data == bytes(exp), "%s (%s): content is not what was written" % (p, o)
        info_agrees(p)
        map_agrees(p)


def test_vireo_raw(d):
    p = os.path.join(d, "w.raw")
    run([VIMG, "create", "-q", "-f", "raw", p, "8M"])
    log = writer(p, seed=7, n=300)
    exp, _, _ = imglib.expected_from_log(log, 8 * MB)
    assert same_content(p, "raw") == bytes(exp)
    info_agrees(p)


def test_vireo_convert(d):
    src = os.path.join(d, "src.qcow2")
    run([QEMU_IMG, "create", "-q", "-f", "qcow2", src, "20M"])
    random_writes(src, 20 * MB, 150, seed=50)
    ref = qemu_raw(src)
    cases = [
        ("raw", []), ("qcow2", []), ("qcow2", ["-c"]),
        ("qcow2", ["-c", "-o", "compression_type=zstd"]),
        ("qcow2", ["-o", "cluster_size=4k,compat=0.10"]), ("qcow2", ["-S", "0"]),
        ("qcow2", ["-o", "preallocation=full"]), ("qcow2", ["-p"]),
    ]
    for i, (fmt, args) in enumerate(cases):
        dst = os.path.join(d, "dst%d.%s" % (i, fmt))
        run([VIMG, "convert", "-O", fmt] + args + [src, dst])
        if fmt == "qcow2":
            qcheck(dst)
        assert qemu_raw(dst, fmt) == ref, "convert %s %s" % (fmt, args)
        r = run([QEMU_IMG, "compare", src, dst], check=False)
        assert r.returncode == 0
    # measure agrees with qemu-img
    for o in ("cluster_size=64k", "cluster_size=4k", "refcount_bits=64"):
        q = json.loads(run([QEMU_IMG, "measure", "--output=json", "-O", "qcow2", "-o", o, src]).stdout)
        v = json.loads(run([VIMG, "measure", "--output=json", "-O", "qcow2", "-o", o, src]).stdout)
        assert q == v, "measure %s: qemu %s vireo %s" % (o, q, v)
    q = json.loads(run([QEMU_IMG, "measure", "--output=json", "-O", "qcow2", "--size", "3G"]).stdout)
    v = json.loads(run([VIMG, "measure", "--output=json", "-O", "qcow2", "--size", "3G"]).stdout)
    assert q == v, "measure --size: qemu %s vireo %s" % (q, v)


def test_vireo_snapshots(d):
    p = os.path.join(d, "vs.qcow2")
    run([VIMG, "create", "-q", "-f", "qcow2", p, "16M"])
    states = []
    for i in range(3):
        writer(p, seed=200 + i, n=150)
        run([VIMG, "snapshot", "-c", "s%d" % i, p])
        states.append(qemu_raw(p))
        qcheck(p)
    writer(p, seed=210, n=150)
    info_agrees(p)
    for i in range(3):    # qemu reads our snapshots
        out = os.path.join(d, "snap.raw")
        run([QEMU_IMG, "convert", "-l", "s%d" % i, "-O", "raw", p, out])
        with open(out, "rb") as f:
            assert f.read() == states[i], "snapshot s%d content" % i
    run([VIMG, "snapshot", "-a", "s0", p])
    qcheck(p)
    assert same_content(p) == states[0]
    writer(p, seed=220, n=100)
    run([VIMG, "snapshot", "-d", "s1", p])
    qcheck(p)
    run([QEMU_IMG, "snapshot", "-a", "s2", p])
    assert same_content(p) == states[2]
    run([VIMG, "snapshot", "-d", "s0", p])
    run([VIMG, "snapshot", "-d", "s2", p])
    qcheck(p)
    assert json.loads(run([QEMU_IMG, "info", "--output=json", p]).stdout).get("snapshots") is None


def test_vireo_resize(d):
    p = os.path.join(d, "r.qcow2")
    run([VIMG, "create", "-q", "-f", "qcow2", "-o", "cluster_size=4k", p, "8M"])
    writer(p, seed=300, n=100, cluster=4096)
    before = qemu_raw(p)
    run([VIMG, "resize", p, "+40M"])            # grows the L1 table too
    qcheck(p)
    assert same_content(p) == before + bytes(40 * MB)
    run([VIMG, "resize", "--shrink", p, "5M"])
    qcheck(p)
    run([VIMG, "resize", p, "8M"])
    qcheck(p)
    assert same_content(p) == before[:5 * MB] + bytes(3 * MB)
    r = run([VIMG, "resize", p, "4M"], check=False)
    assert r.returncode != 0, "shrink without --shrink must fail"
    for pre in ("metadata", "falloc", "full"):
        run([VIMG, "resize", "--preallocation=" + pre, p, "+3M"])
        qcheck(p)
    raw = os.path.join(d, "r.raw")
    run([VIMG, "create", "-q", "-f", "raw", raw, "1M"])
    run([VIMG, "resize", raw, "3M"])
    assert os.path.getsize(raw) == 3 * MB


def test_vireo_chain_ops(d):
    """commit and rebase (safe and -u) on chains, checked by qemu-img."""
    base = os.path.join(d, "base.qcow2")
    mid = os.path.join(d, "mid.qcow2")
    top = os.path.join(d, "top.qcow2")
    run([VIMG, "create", "-q", "-f", "qcow2", base, "16M"])
    writer(base, seed=400, n=100)
    run([VIMG, "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", mid])
    writer(mid, seed=401, n=100)
    run([VIMG, "create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", top])
    writer(top, seed=402, n=100)
    info_agrees(top)
    full = same_content(top)
    # safe rebase of top onto base: content must not change
    run([VIMG, "rebase", "-b", "base.qcow2", "-F", "qcow2", top])
    qcheck(top)
    assert same_content(top) == full
    assert imglib.info_json(QEMU_IMG, top)["backing-filename"] == "base.qcow2"
    # commit top into base
    run([VIMG, "commit", top])
    qcheck(top)
    qcheck(base)
    assert same_content(base) == full
    assert same_content(top) == full
    # rebase -u onto nothing, then compare
    flat = os.path.join(d, "flat.qcow2")
    run([VIMG, "convert", "-O", "qcow2", top, flat])
    run([VIMG, "rebase", "-u", "-b", "", flat])
    qcheck(flat)
    assert "backing-filename" not in imglib.info_json(QEMU_IMG, flat)
    assert run([VIMG, "compare", flat, top], check=False).returncode == 0
    # backing file by -o and create with size from the backing image
    o2 = os.path.join(d, "o2.qcow2")
    run([VIMG, "create", "-q", "-f", "qcow2", "-o", "backing_file=base.qcow2,backing_fmt=qcow2", o2])
    info_agrees(o2)


def test_compare(d):
    a = os.path.join(d, "a.qcow2")
    b = os.path.join(d, "b.raw")
    run([QEMU_IMG, "create", "-q", "-f", "qcow2", a, "4M"])
    qemu_io(a, "write -P 1 1M 64k")
    run([QEMU_IMG, "convert", "-O", "raw", a, b])
    assert run([VIMG, "compare", a, b], check=False).returncode == 0
    qemu_io(b, "write -P 2 1000448 512", fmt="raw")
    r = run([VIMG, "compare", a, b], check=False)
    q = run([QEMU_IMG, "compare", a, b], check=False)
    assert r.returncode == q.returncode == 1, (r.returncode, q.returncode)
    assert r.stdout.strip() == q.stdout.strip(), (r.stdout, q.stdout)
    c = os.path.join(d, "c.raw")
    run([QEMU_IMG, "create", "-q", "-f", "raw", c, "8M"])
    run([QEMU_IMG, "convert", "-O", "raw", a, c + ".tmp"])
    with open(c, "r+b") as f, open(c + ".tmp", "rb") as g:
        f.write(g.read())
    assert run([VIMG, "compare", a, c], check=False).returncode == 0   # tail is zero
    assert run([VIMG, "compare", "-s", a, c], check=False).returncode == 1
    assert run([VIMG, "compare", a, os.path.join(d, "missing")], check=False).returncode == 2


def patch_refcount(path, cluster_index, value):
    """Sets one 16-bit refcount in a 64k-cluster image (refcount block 0)."""
    with open(path, "r+b") as f:
        hdr = f.read(64)
        rt_off = struct.unpack(">Q", hdr[48:56])[0]
        f.seek(rt_off)
        rb = struct.unpack(">Q", f.read(8))[0]
        f.seek(rb + cluster_index * 2)
        f.write(struct.pack(">H", value))


def test_check_repair(d):
    p = os.path.join(d, "k.qcow2")
    run([QEMU_IMG, "create", "-q", "-f", "qcow2", p, "8M"])
    random_writes(p, 8 * MB, 40, seed=60)
    size = os.path.getsize(p)
    # a leak: one more cluster in the file, with a refcount but no user
    os.truncate(p, (size + 65535) // 65536 * 65536 + 65536)
    patch_refcount(p, (size + 65535) // 65536, 1)
    for tool in (VIMG, QEMU_IMG):
        assert run([tool, "check", p], check=False).returncode == 3, tool
    j = json.loads(run([VIMG, "check", "--output=json", p], check=False).stdout)
    assert j["leaks"] == 1
    run([VIMG, "check", "-r", "leaks", p])
    qcheck(p)
    # a corruption: a used data cluster with refcount 0
    m = json.loads(run([QEMU_IMG, "map", "--output=json", p]).stdout)
    used = [e["offset"] for e in m if e.get("offset") is not None and e["data"]][0]
    ref = qemu_raw(p)
    patch_refcount(p, used // 65536, 0)
    for tool in (VIMG, QEMU_IMG):
        assert run([tool, "check", p], check=False).returncode == 2, tool
    assert run([VIMG, "check", "-r", "leaks", p], check=False).returncode == 2
    run([VIMG, "check", "-r", "all", p])
    qcheck(p)
    assert same_content(p) == ref


def test_hostile(d):
    """Backing files outside the allow-list, loops, bad headers: clear errors."""
    inside = os.path.join(d, "inside")
    outside = os.path.join(d, "outside")
    os.mkdir(inside)
    os.mkdir(outside)
    run([QEMU_IMG, "create", "-q", "-f", "raw", os.path.join(outside, "secret.raw"), "1M"])
    ov = os.path.join(inside, "ov.qcow2")
    run([QEMU_IMG, "create", "-q", "-f", "qcow2", "-b", "../outside/secret.raw", "-F", "raw", ov])
    r = run([VIMG, "--allow-dir", inside, "convert", "-O", "raw", ov, ov + ".raw"], check=False)
    assert r.returncode != 0 and "outside the allowed" in r.stderr, r.stderr
    r = run([VIMG, "--allow-dir", outside, "--allow-dir", inside, "info", "--backing-chain", ov],
            check=False)
    assert r.returncode == 0, r.stderr
    # a symlink inside pointing outside is resolved, and refused
    os.symlink(os.path.join(outside, "secret.raw"), os.path.join(inside, "link.raw"))
    ov2 = os.path.join(inside, "ov2.qcow2")
    run([QEMU_IMG, "create", "-q", "-f", "qcow2", "-u", "-b", "link.raw", "-F", "raw", ov2, "1M"])
    r = run([VIMG, "--allow-dir", inside, "info", "--backing-chain", ov2], check=False)
    assert r.returncode != 0
    # loops
    a, b = os.path.join(d, "la.qcow2"), os.path.join(d, "lb.qcow2")
    run([QEMU_IMG, "create", "-q", "-f", "qcow2", a, "1M"])
    run([QEMU_IMG, "create", "-q", "-f", "qcow2", "-b", "la.qcow2", "-F", "qcow2", b])
    run([QEMU_IMG, "rebase", "-u", "-b", "lb.qcow2", "-F", "qcow2", a])
    r = run([VIMG, "convert", "-O", "raw", b, b + ".raw"], check=False)
    assert r.returncode != 0 and "loop" in r.stderr, r.stderr
    r = run([VIMG, "check", a], check=False)
    assert r.returncode == 0    # check looks at one image
    # self loop
    run([QEMU_IMG, "rebase", "-u", "-b", "la.qcow2", "-F", "qcow2", a])
    r = run([VIMG, "info", "--backing-chain", a], check=False)
    assert r.returncode != 0
    # a header whose L1 table lies past the end of the file
    h = os.path.join(d, "h.qcow2")
    run([QEMU_IMG, "create", "-q", "-f", "qcow2", h, "1M"])
    with open(h, "r+b") as f:
        f.seek(40)
        f.write(struct.pack(">Q", 1 << 40))
    r = run([VIMG, "info", h], check=False)
    assert r.returncode != 0 and "L1" in r.stderr, r.stderr

    def patched(name, fmt, size, patches):
        p = os.path.join(d, name)
        run([QEMU_IMG, "create", "-q", "-f", fmt, p, size])
        with open(p, "r+b") as f:
            for off, data in patches:
                f.seek(off)
                f.write(data)
        return p
    # refcount table larger than the file; virtual size overflowing; huge cluster bits
    for p in (patched("rt.qcow2", "qcow2", "1M", [(56, struct.pack(">I", 1 << 20))]),
              patched("sz.qcow2", "qcow2", "1M", [(24, struct.pack(">Q", (1 << 63) + 512))]),
              patched("cb.qcow2", "qcow2", "1M", [(20, struct.pack(">I", 40))]),
              patched("bf.qcow2", "qcow2", "1M", [(8, struct.pack(">Q", 1 << 40)),
                                                  (16, struct.pack(">I", 100))])):
        for verb in (["info"], ["check"], ["convert", "-O", "raw"]):
            args = [VIMG] + verb + [p] + ([p + ".out"] if verb[0] == "convert" else [])
            r = run(args, check=False)
            assert r.returncode not in (0, 3) and r.returncode > 0, (p, verb, r.returncode)
            assert "invalid qcow2 image" in r.stderr or "not supported" in r.stderr, r.stderr
    # a truncated streamOptimized VMDK: grains cut off, then no footer at all
    src = os.path.join(d, "s.raw")
    make_pattern_raw(src, 4 * MB)
    so = os.path.join(d, "so.vmdk")
    run([QEMU_IMG, "convert", "-O", "vmdk", "-o", "subformat=streamOptimized", src, so])
    data = open(so, "rb").read()
    with open(so, "wb") as f:     # keep the footer, damage a grain in the middle
        f.write(data[:70000] + bytes(4096) + data[74096:])
    r = run([VIMG, "convert", "-O", "raw", so, so + ".raw"], check=False)
    assert r.returncode == 1 and "decompress" in r.stderr + r.stdout or r.returncode == 1, r.stderr
    with open(so, "wb") as f:
        f.write(data[:len(data) // 2])
    r = run([VIMG, "convert", "-O", "raw", so, so + ".raw"], check=False)
    assert r.returncode == 1 and "past the end" in r.stderr, r.stderr
    # a VMDK descriptor whose extent points outside the allowed directories
    vd = os.path.join(inside, "evil.vmdk")
    with open(vd, "w") as f:
        f.write('# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\n'
                'RW 2048 FLAT "../outside/secret.raw" 0\n')
    r = run([VIMG, "--allow-dir", inside, "convert", "-O", "raw", vd, vd + ".raw"], check=False)
    assert r.returncode != 0 and "outside the allowed" in r.stderr, r.stderr


def make_pattern_raw(path, size):
    with open(path, "wb") as f:
        for i in range(size // 65536):
            k = i % 5
            if k == 0:
                f.write(bytes(65536))
            elif k == 1:
                f.write(os.urandom(65536))
            else:
                f.write((b"vmdk %06d " % i) * 5461 + bytes(4))


VMDK_SUBFORMATS = ["monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse",
                   "twoGbMaxExtentFlat", "streamOptimized"]


def test_qemu_vmdk(d):
    src = os.path.join(d, "src.raw")
    make_pattern_raw(src, 12 * MB)
    for sub in VMDK_SUBFORMATS:
        p = os.path.join(d, "q-%s.vmdk" % sub)
        run([QEMU_IMG, "convert", "-O", "vmdk", "-o", "subformat=" + sub, src, p])
        if sub != "streamOptimized":
            random_writes(p, 12 * MB, 40, seed=70, fmt="vmdk", zero=False)
        same_content(p)
        info_agrees(p)
    # split extents: a 5G twoGbMaxExtentSparse with data across extent boundaries
    p = os.path.join(d, "big.vmdk")
    run([QEMU_IMG, "create", "-q", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", p, "5G"])
    qemu_io(p, "write -P 3 2047M 2M", "write -P 4 4G 64k", fmt="vmdk")
    exp = os.path.join(d, "big.raw")
    run([VIMG, "convert", "-O", "raw", p, exp])
    assert run([QEMU_IMG, "compare", "-f", "vmdk", "-F", "raw", p, exp], check=False).returncode == 0
    os.unlink(exp)
    # a vmfs descriptor with a -flat file, as ESXi stores disks
    flat = os.path.join(d, "esx-flat.vmdk")
    shutil.copy(src, flat)
    with open(os.path.join(d, "esx.vmdk"), "w") as f:
        f.write('# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
                'createType="vmfs"\n\n# Extent description\n'
                'RW %d VMFS "esx-flat.vmdk"\n\n# The Disk Data Base\n#DDB\n\n'
                'ddb.adapterType = "lsilogic"\nddb.virtualHWVersion = "13"\n' % (12 * MB // 512))
    assert same_content(os.path.join(d, "esx.vmdk")) == open(src, "rb").read()
    # a delta disk (parentFileNameHint)
    base = os.path.join(d, "q-monolithicSparse.vmdk")
    delta = os.path.join(d, "delta.vmdk")
    run([QEMU_IMG, "create", "-q", "-f", "vmdk", "-b", "q-monolithicSparse.vmdk", "-F", "vmdk", delta])
    qemu_io(delta, "write -P 9 3M 100k", fmt="vmdk")
    same_content(delta)
    info_agrees(delta)
    assert base


def test_vireo_vmdk(d):
    src = os.path.join(d, "src.qcow2")
    run([QEMU_IMG, "create", "-q", "-f", "qcow2", src, "20M"])
    random_writes(src, 20 * MB, 100, seed=80)
    ref = qemu_raw(src)
    for sub in ("monolithicSparse", "streamOptimized", "monolithicFlat"):
        p = os.path.join(d, "v-%s.vmdk" % sub)
        run([VIMG, "convert", "-O", "vmdk", "-o", "subformat=" + sub, src, p])
        if sub != "monolithicFlat":
            qcheck(p)
        assert qemu_raw(p) == ref, sub
        info_agrees(p)
    # random writes through the block layer on a monolithicSparse image
    p = os.path.join(d, "w.vmdk")
    run([VIMG, "create", "-q", "-f", "vmdk", p, "16M"])
    log = writer(p, seed=81, n=300, discard=False)
    qcheck(p)
    exp, _, _ = imglib.expected_from_log(log, 16 * MB)
    assert same_content(p) == bytes(exp)
    # a streamOptimized export converts back to qcow2 exactly (OVA import path)
    so = os.path.join(d, "v-streamOptimized.vmdk")
    back = os.path.join(d, "back.qcow2")
    run([VIMG, "convert", "-O", "qcow2", so, back])
    qcheck(back)
    assert qemu_raw(back) == ref


def test_vdi(d):
    src = os.path.join(d, "src.raw")
    make_pattern_raw(src, 9 * MB)
    data = open(src, "rb").read()
    for static in ("off", "on"):
        q = os.path.join(d, "q-%s.vdi" % static)
        run([QEMU_IMG, "convert", "-O", "vdi", "-o", "static=" + static, src, q])
        random_writes(q, 9 * MB, 30, seed=90, fmt="vdi", zero=False)
        same_content(q)
        info_agrees(q)
        v = os.path.join(d, "v-%s.vdi" % static)
        run([VIMG, "convert", "-O", "vdi", "-o", "static=" + static, src, v])
        qcheck(v)
        assert qemu_raw(v) == data
        info_agrees(v)
    p = os.path.join(d, "w.vdi")
    run([VIMG, "create", "-q", "-f", "vdi", p, "16M"])
    log = writer(p, seed=91, n=300, discard=False)
    qcheck(p)
    exp, _, _ = imglib.expected_from_log(log, 16 * MB)
    assert same_content(p) == bytes(exp)
    assert run([VIMG, "check", p], check=False).returncode == 0


def test_vhdx(d):
    src = os.path.join(d, "src.raw")
    make_pattern_raw(src, 20 * MB)
    for o in ("subformat=dynamic", "subformat=fixed", "block_size=8M,subformat=dynamic"):
        p = os.path.join(d, "q.vhdx")
        run([QEMU_IMG, "convert", "-O", "vhdx", "-o", o, src, p])
        random_writes(p, 20 * MB, 30, seed=95, fmt="vhdx", zero=False)
        same_content(p)
        info_agrees(p)
        back = os.path.join(d, "back.qcow2")
        run([VIMG, "convert", "-O", "qcow2", p, back])
        qcheck(back)
        assert qemu_raw(back) == qemu_raw(p)
        os.unlink(p)
    r = run([VIMG, "create", "-f", "vhdx", os.path.join(d, "x.vhdx"), "1M"], check=False)
    assert r.returncode == 1


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_")]


def main():
    global VIMG, WRITER
    VIMG, WRITER = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    only = sys.argv[3:]
    passed = failed = 0
    for t in TESTS:
        if only and t.__name__ not in only:
            continue
        d = tempfile.mkdtemp(prefix="vireo-img-")
        try:
            t(d)
            print("ok   %s" % t.__name__)
            passed += 1
        except Exception:
            print("FAIL %s" % t.__name__)
            traceback.print_exc()
            failed += 1
        finally:
            shutil.rmtree(d, ignore_errors=True)
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
