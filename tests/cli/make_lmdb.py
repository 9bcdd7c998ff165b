#!/usr/bin/env python3
"""Writes an LSUN-style LMDB source as mdb_load's input (lmdb-utils) on stdout,
and optionally the same images as an in-memory format to compare against.

Images come from a CIFAR-10 binary batch file (RGB 32x32), from an IDX file
(grey, e.g. Fashion-MNIST's .gz), or are generated (grey side x side). Each
value is a lossless PNG, so the streamed set decodes to exactly the pixels of
the source; keys are %08d in order, so LMDB's key order is the source order.
With --n larger than the source, images repeat (each under its own key).

  make_lmdb.py (--cifar FILE... | --idx FILE | --generate SIDE [--rgb]) --n N
               [--idx-out FILE] [--zip-out FILE] | mdb_load DIR   (DIR must exist)

Used by tests/cli/stream.sh (resume and memory) and bench/stream.sh (speed).
"""
import argparse
import gzip
import struct
import sys
import zlib


def png(rows, w, h, channels):
    """A PNG (grey or RGB) from raw row bytes, zlib only."""
    raw = b"".join(b"\x00" + rows[r * w * channels:(r + 1) * w * channels] for r in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ctype = 0 if channels == 1 else 2
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def cifar_images(paths):
    """HWC RGB rows of every record of CIFAR-10 binary batches."""
    out = []
    for p in paths:
        data = open(p, "rb").read()
        for at in range(0, len(data) - 3072, 3073):
            chw = data[at + 1:at + 3073]
            hwc = bytes(chw[c * 1024 + i] for i in range(1024) for c in range(3))
            out.append((hwc, 32, 32, 3))
    return out


def idx_images(path):
    data = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
    n, h, w = struct.unpack(">III", data[4:16])
    return [(data[16 + i * h * w:16 + (i + 1) * h * w], w, h, 1) for i in range(n)]


def generated(side, count, channels=1):
    """Images that differ from one another (a seeded LCG), grey or RGB."""
    out, x = [], 12345
    for _ in range(count):
        px = bytearray()
        for _ in range(side * side * channels):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            px.append(x >> 23)
        out.append((bytes(px), side, side, channels))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cifar", nargs="+")
    ap.add_argument("--idx")
    ap.add_argument("--generate", type=int)
    ap.add_argument("--rgb", action="store_true", help="generated images in colour")
    ap.add_argument("--distinct", type=int, default=1000, help="generated images before repeating")
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--idx-out", help="also write the first N images as an IDX file (grey only)")
    ap.add_argument("--zip-out", help="also write the same PNGs as a dataset zip (stored entries)")
    a = ap.parse_args()
    if a.cifar:
        src = cifar_images(a.cifar)
    elif a.idx:
        src = idx_images(a.idx)
    else:
        src = generated(a.generate, min(a.n, a.distinct), 3 if a.rgb else 1)
    encoded = [png(*s) for s in src[:a.n]]
    out = sys.stdout.buffer
    per = sum(len(e) for e in encoded) // len(encoded) + 4096  # a value's pages, generously
    mapsize = a.n * per * 2 + (64 << 20)
    out.write(b"VERSION=3\nformat=bytevalue\ntype=btree\nmapsize=%d\nHEADER=END\n" % mapsize)
    for i in range(a.n):
        out.write(b" " + (b"%08d" % i).hex().encode() + b"\n " + encoded[i % len(encoded)].hex().encode()
                  + b"\n")
    out.write(b"DATA=END\n")
    if a.zip_out:
        import zipfile
        with zipfile.ZipFile(a.zip_out, "w", zipfile.ZIP_STORED) as z:
            for i in range(a.n):
                z.writestr("%08d.png" % i, encoded[i % len(encoded)])
    if a.idx_out:
        w, h, c = src[0][1], src[0][2], src[0][3]
        if c != 1:
            sys.exit("make_lmdb.py: --idx-out needs grey images")
        with open(a.idx_out, "wb") as f:
            f.write(struct.pack(">IIII", 0x803, a.n, h, w))
            for i in range(a.n):
                f.write(src[i % len(src)][0])


if __name__ == "__main__":
    main()
