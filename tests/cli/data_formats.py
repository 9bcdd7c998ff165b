"""Writes the files tests/test_data_formats.c and tests/cli/data_formats.sh
read: the same 12 colour images (4 classes, 3 each) as a CIFAR-10 batch
(the reference, read by the existing cifar10 loader), as STL-10 binaries
(each image enlarged 3x by repetition to 96x96), .npy / .npz arrays in both
layouts, a StyleGAN2-ADA dataset zip of PNGs (and of JPEGs when OpenCV is
there, with a folder of the same JPEGs as their reference), and hostile
variants of each. Images come from CIFAR-10's test batch when one is given,
else they are generated.
Usage: data_formats.py OUT_DIR [CIFAR_TEST_BATCH]"""
import io
import json
import os
import struct
import sys
import zipfile
import zlib

import numpy as np

N_CLASSES, PER_CLASS = 4, 3


def source_images(batch):
    """(12, 3, 32, 32) uint8 CHW and labels 0..3 in a mixed order."""
    if batch and os.path.isfile(batch):
        rec = np.fromfile(batch, dtype=np.uint8, count=3073 * 400).reshape(-1, 3073)
        keep = []
        for i, lab in enumerate(rec[:, 0]):
            if lab < N_CLASSES and sum(rec[k, 0] == lab for k in keep) < PER_CLASS:
                keep.append(i)
        rec = rec[keep[: N_CLASSES * PER_CLASS]]
        return rec[:, 1:].reshape(-1, 3, 32, 32).copy(), rec[:, 0].astype(np.int64)
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:32, 0:32]
    imgs, labels = [], []
    for i in range(N_CLASSES * PER_CLASS):
        lab = i % N_CLASSES
        # Not symmetric under transposition, so a row/column mix-up shows.
        base = np.stack([(x * 8 + lab * 40) % 256, (y * 5 + i * 17) % 256, (x * y + i) % 256])
        noise = rng.integers(0, 30, size=(3, 32, 32))
        imgs.append(((base + noise) % 256).astype(np.uint8))
        labels.append(lab)
    return np.stack(imgs), np.array(labels, dtype=np.int64)


def png_bytes(hwc):
    """An RGB PNG without any image library (zlib only)."""
    h, w, _ = hwc.shape
    raw = b"".join(b"\x00" + hwc[r].tobytes() for r in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def cifar_batch(path, chw, labels):
    write(path, b"".join(bytes([int(l)]) + im.tobytes() for im, l in zip(chw, labels)))


def stl_images(chw):
    """96x96 (each pixel 3x3), as STL-10 stores them: planes column-major."""
    big = chw.repeat(3, axis=2).repeat(3, axis=3)
    return big.transpose(0, 1, 3, 2).tobytes()  # [n][c][x][y]


def npy_bytes(arr):
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def npy_raw(shape, payload, descr="|u1"):
    """A version 1.0 .npy with any shape text (np.save refuses lies)."""
    head = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    head += " " * (63 - (10 + len(head)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head.encode() + payload


def dataset_zip(path, files, labels, compress=zipfile.ZIP_DEFLATED, extra=None):
    with zipfile.ZipFile(path, "w", compress) as z:
        for name, data in files:
            z.writestr(name, data)
        if labels is not None:
            z.writestr("dataset.json", json.dumps({"labels": labels}))
        for name, data in extra or []:
            z.writestr(name, data)


def patch_sizes(path, entry, size):
    """Sets entry's uncompressed size in its local and central records."""
    b = bytearray(open(path, "rb").read())
    name = entry.encode()
    for sig, off_size, off_name in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        at = 0
        while (at := b.find(sig, at)) >= 0:
            if b[at + off_name: at + off_name + len(name)] == name:
                struct.pack_into("<I", b, at + off_size, size)
            at += 4
    write(path, bytes(b))


def good(out, chw, labels):
    os.makedirs(f"{out}/ref", exist_ok=True)
    cifar_batch(f"{out}/ref/test_batch.bin", chw, labels)
    hwc = chw.transpose(0, 2, 3, 1)
    # STL-10: train and test labelled (1..10 on disk), unlabeled without labels.
    os.makedirs(f"{out}/stl", exist_ok=True)
    write(f"{out}/stl/train_X.bin", stl_images(chw))
    write(f"{out}/stl/train_y.bin", (labels + 1).astype(np.uint8).tobytes())
    write(f"{out}/stl/test_X.bin", stl_images(chw[::-1]))
    write(f"{out}/stl/test_y.bin", (labels[::-1] + 1).astype(np.uint8).tobytes())
    write(f"{out}/stl/unlabeled_X.bin", stl_images(chw[:5]))
    # NumPy: NHWC + int64 labels, NCHW + uint8 labels, grey (N, H, W).
    np.save(f"{out}/nhwc.npy", np.ascontiguousarray(hwc))
    np.save(f"{out}/labels.npy", labels)
    np.save(f"{out}/nchw.npy", chw)
    np.save(f"{out}/labels_u8.npy", labels.astype(np.uint8))
    np.save(f"{out}/grey.npy", np.ascontiguousarray(chw[:, 0]))
    np.savez(f"{out}/xy.npz", y=labels.astype(np.int32), x=hwc)  # named, stored
    np.savez_compressed(f"{out}/first_two.npz", chw, labels)  # arr_0, arr_1, deflated
    # StyleGAN2-ADA's dataset_tool layout: 00000/img00000000.png, in name order.
    names = [f"{i // 5:05d}/img{i:08d}.png" for i in range(len(chw))]
    order = list(reversed(range(len(chw))))  # written out of order: the reader sorts
    dataset_zip(f"{out}/set.zip", [(names[i], png_bytes(hwc[i])) for i in order],
                [[names[i], int(labels[i])] for i in order])
    dataset_zip(f"{out}/set_stored.zip", [(names[i], png_bytes(hwc[i])) for i in order], None,
                zipfile.ZIP_STORED)
    try:
        import cv2
    except ImportError:
        return
    os.makedirs(f"{out}/jpeg_ref", exist_ok=True)
    jpegs = []
    for i in range(len(chw)):
        ok, enc = cv2.imencode(".jpg", hwc[i][:, :, ::-1].copy())  # OpenCV is BGR
        assert ok
        write(f"{out}/jpeg_ref/img{i:08d}.jpg", enc.tobytes())
        jpegs.append((f"img{i:08d}.jpg", enc.tobytes()))
    dataset_zip(f"{out}/set_jpeg.zip", jpegs, [[n, int(l)] for (n, _), l in zip(jpegs, labels)])


def hostile(out, chw, labels):
    h = f"{out}/bad"
    os.makedirs(h, exist_ok=True)
    hwc = np.ascontiguousarray(chw.transpose(0, 2, 3, 1))
    write(f"{h}/truncated_header.npy", npy_bytes(hwc)[:40])
    write(f"{h}/truncated_data.npy", npy_bytes(hwc)[:-7])
    np.save(f"{h}/float.npy", hwc.astype(np.float32) / 255)
    np.save(f"{h}/ambiguous.npy", np.zeros((2, 3, 5, 3), np.uint8))
    np.save(f"{h}/nochannel.npy", np.zeros((2, 5, 5, 5), np.uint8))
    np.save(f"{h}/labels_short.npy", labels[:-1])
    np.save(f"{h}/labels_gap.npy", labels * 2)  # classes 1, 3, 5 never used
    np.save(f"{h}/labels_float.npy", labels.astype(np.float64))
    write(f"{h}/huge_shape.npy", npy_raw("(9999999, 4096, 4096)", b"\0" * 64))
    png = png_bytes(hwc[0])
    dataset_zip(f"{h}/dotdot.zip", [("00000/img0.png", png), ("../evil.png", png)], None)
    dataset_zip(f"{h}/absolute.zip", [("/etc/evil.png", png)], None)
    # Zip bombs: a deflated entry whose records claim 2^31 bytes (over the
    # limit); one claiming 200 MB from a few hundred bytes (more than
    # deflate can expand); one that inflates to 1 MB where 1000 bytes are
    # declared.
    dataset_zip(f"{h}/bomb_claim.zip", [("img0.png", b"\0" * 100000)], None)
    patch_sizes(f"{h}/bomb_claim.zip", "img0.png", 1 << 31)
    dataset_zip(f"{h}/bomb_ratio.zip", [("img0.png", b"\0" * 1000)], None)
    patch_sizes(f"{h}/bomb_ratio.zip", "img0.png", 200 << 20)
    dataset_zip(f"{h}/bomb_expand.zip", [("img0.png", b"\0" * (1 << 20))], None)
    patch_sizes(f"{h}/bomb_expand.zip", "img0.png", 1000)
    with zipfile.ZipFile(f"{h}/bomb.npz", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x.npy", b"\0" * 100000)
    patch_sizes(f"{h}/bomb.npz", "x.npy", 1 << 31)
    with zipfile.ZipFile(f"{h}/dotdot.npz", "w") as z:
        z.writestr("../x.npy", npy_bytes(hwc))
    dataset_zip(f"{h}/unlabelled_one.zip", [("a.png", png), ("b.png", png)], [["a.png", 0]])
    dataset_zip(f"{h}/corrupt_png.zip", [("a.png", png[:60])], None)
    write(f"{h}/not_a.zip", b"PK\x03\x04 this is not a zip archive at all")
    os.makedirs(f"{h}/stl", exist_ok=True)
    write(f"{h}/stl/train_X.bin", stl_images(chw[:2]) + b"12345")
    write(f"{h}/stl/test_X.bin", stl_images(chw[:2]))
    write(f"{h}/stl/test_y.bin", bytes([1, 11]))


def lmdb_dump(path, pairs):
    """mdb_load's input (lmdb-utils): the shell test turns it into an LMDB environment."""
    lines = ["VERSION=3", "format=bytevalue", "type=btree", "HEADER=END"]
    for k, v in pairs:
        lines += [" " + k.hex(), " " + v.hex()]
    write(path, ("\n".join(lines + ["DATA=END"]) + "\n").encode())


def lsun_dumps(out, chw):
    hwc = np.ascontiguousarray(chw.transpose(0, 2, 3, 1))
    # Keys written in reverse: the reader takes LMDB's key order.
    lmdb_dump(f"{out}/lsun_good.dump",
              [(b"%08d" % i, png_bytes(hwc[i])) for i in reversed(range(len(hwc)))])
    lmdb_dump(f"{out}/bad/lsun_notimage.dump",
              [(b"00000000", png_bytes(hwc[0])), (b"img0042", b"not an image at all")])


def main():
    out = sys.argv[1]
    chw, labels = source_images(sys.argv[2] if len(sys.argv) > 2 else None)
    assert len(chw) == N_CLASSES * PER_CLASS and set(labels) == set(range(N_CLASSES))
    os.makedirs(out, exist_ok=True)
    good(out, chw, labels)
    hostile(out, chw, labels)
    lsun_dumps(out, chw)


if __name__ == "__main__":
    main()
