#!/bin/bash
# `make bench`: lapgan against its PyTorch yardstick (bench/ref/), run
# alternately (A B A B ...) so that drift on a shared machine hits both alike.
#
#   bench/run.sh [BUILD_DIR=build]
#
# One untimed warm-up pair first (it also picks PyTorch's faster memory
# layout per conv level), then PAIRS timed pairs of:
#   lapgan bench / lapgan_ref.py        training step per level, whole model, sampling
#   parzen_bench / lapgan_ref.py --parzen   Parzen log-likelihood
#   lapgan bench --precision bf16 / lapgan_ref.py --autocast bf16   (BF16=1)
# then CONV_PAIRS pairs of conv_bench / conv_bench.py (the cifar10 preset's 5x5
# layers). Each side runs under /usr/bin/time for its peak resident memory.
# Prints a table (metric, ours median, PyTorch median, ratio ours/PyTorch:
# median [min-max] over the pairs) and writes it to OUT.
#
# env (defaults): PAIRS (5), PRESET (cifar10), BATCH (128), SAMPLE_BATCH (256),
#   THREADS (all cores), STEPS (5 timed steps per level) and WARMUP (1),
#   ADAM (0; 1 benches the Adam recipe on both sides), REF_PYTHON
#   (/usr/bin/python3: a python with torch), PARZEN ("10000 10000 3072":
#   samples, test rows, dims), CONV_PAIRS (3), CONV_BATCH (0: the preset's 128),
#   IMPLS (cpu, the backend as training calls it: conv_bench implementations), OUT (BUILD_DIR/bench/results.md).
#   BF16 (auto: 1 where lscpu lists avx512_bf16 or amx_bf16; 1 insists, 0 skips),
#   QUICK=1: one pair of everything on tiny sizes (tests/cli/bench_smoke.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
if [ "${QUICK:-0}" = 1 ]; then
    : "${PAIRS:=1}" "${PRESET:=tiny}" "${BATCH:=8}" "${SAMPLE_BATCH:=8}" "${THREADS:=1}"
    : "${STEPS:=1}" "${WARMUP:=0}" "${PARZEN:=64 64 48}" "${CONV_PAIRS:=1}" "${CONV_BATCH:=2}"
    conv_shape=(--shape 14)
    peak_iters=14
else
    conv_shape=()
    peak_iters=24
fi
pairs=${PAIRS:-5}
preset=${PRESET:-cifar10}
batch=${BATCH:-128}
sbatch=${SAMPLE_BATCH:-256}
threads=${THREADS:-$(nproc)}
steps=${STEPS:-5}
warmup=${WARMUP:-1}
read -r pz_n pz_m pz_d <<<"${PARZEN:-10000 10000 3072}"
conv_pairs=${CONV_PAIRS:-3}
conv_batch=${CONV_BATCH:-0}
py=${REF_PYTHON:-/usr/bin/python3}
out=${OUT:-$build/bench/results.md}
opt=(); [ "${ADAM:-0}" = 1 ] && opt=(--adam)
has_bf16=0; grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo && has_bf16=1
bf16=${BF16:-auto}
[ "$bf16" = auto ] && bf16=$has_bf16
if [ "$bf16" = 1 ] && [ "$has_bf16" = 0 ]; then
    echo "bench/run.sh: BF16=1 but this CPU has no avx512_bf16 or amx_bf16 (lscpu flags)" >&2; exit 1
fi

for f in "$build/lapgan" "$build/bench/peak_fma" "$build/bench/parzen_bench" "$build/bench/conv_bench"; do
    [[ -x $f ]] || { echo "bench/run.sh: $f missing; run make BUILD=$build" >&2; exit 1; }
done
"$py" -c 'import torch' 2>/dev/null ||
    { echo "bench/run.sh: $py cannot import torch (scripts/deps.sh torch, or set REF_PYTHON)" >&2; exit 1; }
timer=(); [ -x /usr/bin/time ] && timer=(/usr/bin/time -f %M)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
t_start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

common=(--preset "$preset" --batch "$batch" --sample-batch "$sbatch" --threads "$threads" "${opt[@]}")
ours_train=("$build/lapgan" bench "${common[@]}")
ref_train=("$py" bench/ref/lapgan_ref.py --lapgan "$build/lapgan" "${common[@]}")
ours_parzen=("$build/bench/parzen_bench" "$threads" "$pz_n" "$pz_m" "$pz_d")
ref_parzen=("$py" bench/ref/lapgan_ref.py --parzen "$pz_n" "$pz_m" "$pz_d" --threads "$threads")
conv_common=(--threads "$threads" --reps 3 --set cifar --batch "$conv_batch" "${conv_shape[@]}")
ours_conv=("$build/bench/conv_bench" "${conv_common[@]}" --impl "${IMPLS:-cpu}")
ref_conv=("$py" bench/ref/conv_bench.py "${conv_common[@]}" --dirs total)

# run NAME CMD...: CMD's stdout appended to $tmp/NAME, its peak RSS (KiB) to
# $tmp/NAME.rss; a failure stops the whole benchmark with its stderr.
run() {
    local name=$1; shift
    if [ ${#timer[@]} -gt 0 ]; then
        "${timer[@]}" -o "$tmp/rss1" "$@" >>"$tmp/$name" 2>"$tmp/err" ||
            { echo "bench/run.sh: $* failed:" >&2; cat "$tmp/err" >&2; exit 1; }
        tail -1 "$tmp/rss1" >>"$tmp/$name.rss"
    else
        "$@" >>"$tmp/$name" 2>"$tmp/err" ||
            { echo "bench/run.sh: $* failed:" >&2; cat "$tmp/err" >&2; exit 1; }
    fi
    echo "--" >>"$tmp/$name"
}

"$build/bench/peak_fma" "$threads" "$peak_iters" >"$tmp/peak"
echo "bench/run.sh: warm-up pair" >&2
"${ours_train[@]}" --steps 1 --warmup "$warmup" >/dev/null
"${ref_train[@]}" --steps 1 --warmup "$warmup" --layout auto >"$tmp/warm"
layout=$(awk '$1 == "layout" {printf "%s%s=%s", sep, $2, $3; sep = ","}' "$tmp/warm")
for ((i = 1; i <= pairs; i++)); do
    echo "bench/run.sh: pair $i/$pairs (train + sample, then Parzen)" >&2
    run ours "${ours_train[@]}" --steps "$steps" --warmup "$warmup"
    run ref "${ref_train[@]}" --steps "$steps" --warmup "$warmup" --layout "$layout"
    if [ "$bf16" = 1 ]; then
        run ours_bf16 "${ours_train[@]}" --steps "$steps" --warmup "$warmup" --precision bf16
        run ref_bf16 "${ref_train[@]}" --steps "$steps" --warmup "$warmup" --layout "$layout" \
            --autocast bf16
    fi
    run ours_parzen "${ours_parzen[@]}"
    run ref_parzen "${ref_parzen[@]}"
done
for ((i = 1; i <= conv_pairs; i++)); do
    echo "bench/run.sh: conv pair $i/$conv_pairs" >&2
    run ours_conv "${ours_conv[@]}"
    run ref_conv "${ref_conv[@]}"
done
"$build/bench/peak_fma" "$threads" "$peak_iters" >>"$tmp/peak"

torch_version=$("$py" -c 'import torch; print(torch.__version__)')
mkdir -p "$(dirname "$out")"
{
    echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p')" \
         "(family $(lscpu | sed -n 's/^CPU family: *//p') model $(lscpu | sed -n 's/^Model: *//p');" \
         "flags: $(grep -owE 'avx2|avx512f|avx512_bf16|amx_bf16|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')), $threads threads;" \
         "preset $preset${opt[*]:+ ${opt[*]}}, batch $batch, sampling batch $sbatch;" \
         "PyTorch $torch_version ($py, layouts $layout)"
    echo "# $pairs pairs ($steps timed steps per level after $warmup), $conv_pairs conv pairs;" \
         "load average $load_start at start, $(cut -d' ' -f1-3 /proc/loadavg) at end;" \
         "took $(($(date +%s) - t_start)) s; env OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset};" \
         "lapgan's OpenBLAS kernels: $("$build/lapgan" selfcheck 2>/dev/null | sed -nE 's/.*; OpenBLAS ([A-Za-z0-9]+);.*/\1/p')"
    python3 bench/summarize.py "$tmp" "$batch"
} >"$out"
cat "$out"
echo "bench/run.sh: table written to $out" >&2
