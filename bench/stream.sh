#!/bin/bash
# Streaming costs no training speed (issue 19): `lapgan train` img/s on the
# cifar10-32 preset from CIFAR-10 held in memory (cifar10:DIR), from an LMDB
# environment of the same training images as PNG values (lsun:DIR, decoded by
# the prefetch thread while a step runs) and from a dataset zip of the same
# PNGs (zip:FILE). Runs alternate (memory, LMDB, zip, memory, ...); each level
# trains alone for a fixed number of steps and its img/s is the mean of the
# JSONL log's records after the first. Prints per level and for the whole
# preset (the time of one image through every level) the median img/s and
# the ratio to memory. The issue's bar: at least 0.95.
#
#   bench/stream.sh [BUILD_DIR=build] [CIFAR_DIR=../shared/data/cifar10/jpeg]
# env: PAIRS (3), THREADS (all cores), BATCH (128), STEPS ("20 60 600": levels 0, 1, 2)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
data=${2:-../shared/data/cifar10/jpeg}
bin=$build/lapgan
pairs=${PAIRS:-3}
threads=${THREADS:-$(nproc)}
batch=${BATCH:-128}
read -r -a steps <<<"${STEPS:-20 60 600}"
[ -x "$bin" ] || { echo "bench/stream.sh: $bin not built (make BUILD=$build all)" >&2; exit 1; }
ls "$data"/data_batch_*.bin >/dev/null 2>&1 || { echo "bench/stream.sh: $data: no data_batch_*.bin" >&2; exit 1; }
command -v mdb_load >/dev/null || { echo "bench/stream.sh: mdb_load absent (apt install lmdb-utils)" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
n=$(( $(cat "$data"/data_batch_*.bin | wc -c) / 3073 ))
mkdir -p "$tmp/cifar_lmdb"
python3 tests/cli/make_lmdb.py --cifar "$data"/data_batch_*.bin --n "$n" --zip-out "$tmp/cifar.zip" |
    mdb_load "$tmp/cifar_lmdb"
specs=("cifar10:$data" "lsun:$tmp/cifar_lmdb" "zip:$tmp/cifar.zip")
names=(memory lmdb zip)
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p'), $threads threads," \
     "batch $batch, $n training images, $pairs rounds, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((p = 0; p < pairs; p++)); do
    for s in 0 1 2; do
        for k in 0 1 2; do
            "$bin" train --data "${specs[$s]}" --preset cifar10-32 --levels "$k" --steps "${steps[$k]}" \
                --batch "$batch" --threads "$threads" --seed 1 --val-every 0 --sample-every 0 \
                --ckpt-every 0 --log-every "$(( steps[k] / 5 > 0 ? steps[k] / 5 : 1 ))" --quiet --force --out "$tmp/run" 2>"$tmp/err" ||
                { echo "bench/stream.sh: ${names[$s]} level $k: $(tail -1 "$tmp/err")" >&2; exit 1; }
            python3 -c 'import json, sys
r = [json.loads(l)["img_per_s"] for l in open(sys.argv[1])][1:]
print(sys.argv[2], sys.argv[3], sum(r) / len(r))' "$tmp/run/log_level_$k.jsonl" "${names[$s]}" "$k" >>"$tmp/ips"
        done
    done
done
python3 - "$tmp/ips" <<'PY'
import statistics, sys
ips = {}
for line in open(sys.argv[1]):
    name, k, v = line.split()
    ips.setdefault((name, int(k)), []).append(float(v))
med = {key: statistics.median(v) for key, v in ips.items()}
names = ["memory", "lmdb", "zip"]
print("| level | " + " | ".join(f"{n} img/s" for n in names) + " | lmdb / memory | zip / memory |")
print("|---|" + "---|" * (len(names) + 2))
rows = [(f"{k} ({32 >> k}x{32 >> k})", {n: med[(n, k)] for n in names}) for k in range(3)]
rows.append(("whole preset", {n: 1 / sum(1 / med[(n, k)] for k in range(3)) for n in names}))
for label, r in rows:
    print(f"| {label} | " + " | ".join(f"{r[n]:.1f}" for n in names)
          + f" | {r['lmdb'] / r['memory']:.3f} | {r['zip'] / r['memory']:.3f} |")
PY
