#!/usr/bin/env bash
# Installs the Debian packages lapgan needs, only when one is missing.
# Usage: scripts/deps.sh [build|test|torch]   (build is the default)
set -euo pipefail
want=(build-essential make pkg-config zlib1g-dev libpng-dev libjpeg62-turbo-dev
      libopenblas-openmp-dev libdnnl-dev libjansson-dev libmicrohttpd-dev libsqlite3-dev
      libssl-dev                                  # sha256 of the FID Inception weights
      libzip-dev                                  # zip: and npz: data sets (src/data/zip.c)
      liblmdb-dev libwebp-dev                     # lsun: data sets (src/data/lsun.c), WebP images
      protobuf-c-compiler libprotobuf-c-dev libonnx-dev   # lapgan export --format onnx (onnx.proto)
      dataset-fashion-mnist)
case "${1:-build}" in
  build) ;;
  test)  want+=(valgrind chromium chromium-driver python3-venv
               clang libclang-rt-14-dev libomp-14-dev        # clang: fuzz harnesses
               libopenmpi-dev openmpi-bin iproute2           # make MPI=1, tests/cli/mpi.sh, mpi_netns.sh (ip netns)
               python3                                       # outputs.sh, bounds.sh: test PNGs (zlib)
                                                             # optim.sh, model_file.sh: idx data, JSON
                                                             # reproduce_cifar10.sh: the results page
               python3-numpy                                 # safetensors_interop (its venv sees it),
                                                             # data_formats: .npy/.npz/zip/STL-10 files
               python3-torch python3-opencv time             # bench_ref: bench/run.sh QUICK=1;
                                                             # opencv: data_formats' JPEG zip
               python3-dev python3-pytest                    # tests/cli/python.sh (cffi build, pytest)
               python3-scipy python3-pil                     # tools/make_inception_fixtures.py (sqrtm; the wheel's resizer)
               lmdb-utils) ;;                                # data_formats.sh: mdb_load makes LSUN environments
  torch) want+=(python3-torch python3-numpy python3-opencv time) ;;  # time: peak RSS in bench/run.sh
  *) echo "deps.sh: unknown set '$1' (build, test, torch)" >&2; exit 2 ;;
esac
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps.sh: installing ${missing[*]}" >&2
SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
