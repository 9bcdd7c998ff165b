#!/usr/bin/env bash
# Reproduces the paper's CIFAR-10 comparison (issue 16): trains the
# same-capacity single-scale GAN baseline, LAPGAN and CC-LAPGAN on CIFAR-10
# within a time budget, with the held-out validation split and best-model
# selection on; evaluates each (Parzen window at three pixel scales with sigma
# chosen on the validation split, Frechet distance in a CIFAR-10 classifier's
# features, the classifier's accuracy on CC-LAPGAN's samples per class, the
# Inception FID/IS when this build has `lapgan eval fid`); writes
# docs/results-cifar10.md with its figures in docs/results-cifar10/.
#
# Usage: scripts/reproduce-cifar10.sh DATA_DIR BUDGET_MINUTES
#   DATA_DIR        CIFAR-10 binary batches (data_batch_*.bin, test_batch.bin),
#                   e.g. ../shared/data/cifar10/jpeg
#   BUDGET_MINUTES  wall-clock minutes of training for the three models together
#                   (a third each; evaluation and the classifier come on top)
# Environment (defaults in brackets):
#   SEED [1]  THREADS [all cores]  OUT [runs/repro-cifar10]  LAPGAN [build/lapgan]
#   SIZE [32]: 32 = cifar10-32 and gan-cifar10-32 on the full 32x32 images (the size
#              of Table 1); 28 = the paper's cifar10 (8 -> 14 -> 28 crops) and gan-cifar10
#   OPTIM [sgd]: sgd = the presets' (paper's) recipe with the authors' initialisation
#                (--authors-init: without it the paper's SGD collapses the 8x8 level to one
#                image, docs/presets.md); adam = --adam (the nets' default initialisation)
#   BATCH [128, the paper's]  VAL_IMAGES [64]  VAL_SAMPLES [16]  VAL_CHECKS [4]
#   CLF_EPOCHS [12]  CLF_ARCH [vgg; trained with --flip --shift 4 --lr-decay 0.2]  PARZEN_SAMPLES [10000]  PARZEN_TEST [10000]  PARZEN_VALID [1000]
#   FID_SAMPLES [2000; QUICK: 0 = none]: samples per model for Inception FID/KID/PR
#   against as many test images (latest weights; about 13 images/s on 2 cores); FD_SAMPLES [10000]  DOCS [docs; QUICK: OUT/docs]
#   NN_LIMIT [3000]: training images searched by the Inception-space nearest neighbours
#   QUICK [0]: 1 = a few steps of everything on tiny sizes (CI: under 10 minutes)
#   REUSE [0]: 1 = continue an interrupted run in OUT: levels listed in OUT/levels.txt
#              (written as each level finishes) are not trained again, the speeds
#              measured before (OUT/ips.txt) are reused, and the log is appended to
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: scripts/reproduce-cifar10.sh DATA_DIR BUDGET_MINUTES" >&2; exit 2; }
[ $# -eq 2 ] || usage
data_dir=$1 budget=$2
case "$budget" in '' | *[!0-9.]*) echo "reproduce-cifar10: BUDGET_MINUTES must be a number, got '$budget'" >&2; exit 2 ;; esac
[ -f "$data_dir/test_batch.bin" ] || { echo "reproduce-cifar10: $data_dir: no test_batch.bin (CIFAR-10 binary batches expected)" >&2; exit 1; }
ls "$data_dir"/data_batch_*.bin >/dev/null 2>&1 || { echo "reproduce-cifar10: $data_dir: no data_batch_*.bin" >&2; exit 1; }

quick=${QUICK:-0}
seed=${SEED:-1}
threads=${THREADS:-$(nproc)}
out=${OUT:-runs/repro-cifar10}
bin=${LAPGAN:-build/lapgan}
size=${SIZE:-32}
optim=${OPTIM:-sgd}
docs=${DOCS:-docs}
[ "$quick" = 1 ] && docs=${DOCS:-$out/docs}
case "$size" in
    32) lap=cifar10-32 gan=gan-cifar10-32 ;;
    28) lap=cifar10 gan=gan-cifar10 ;;
    *) echo "reproduce-cifar10: SIZE must be 32 or 28, got '$size'" >&2; exit 2 ;;
esac
case "$optim" in
    sgd) optflags=(--authors-init) ;;
    adam) optflags=(--adam) ;;
    *) echo "reproduce-cifar10: OPTIM must be sgd or adam, got '$optim'" >&2; exit 2 ;;
esac
if [ "$quick" = 1 ]; then
    batch=${BATCH:-16} val_images=${VAL_IMAGES:-8} val_samples=${VAL_SAMPLES:-4}
    clf_epochs=${CLF_EPOCHS:-1} psamples=${PARZEN_SAMPLES:-200} ptest=${PARZEN_TEST:-200}
    pvalid=${PARZEN_VALID:-100} fd_samples=${FD_SAMPLES:-200} val_checks=${VAL_CHECKS:-2} fid_samples=${FID_SAMPLES:-0}
    nn_limit=${NN_LIMIT:-40}
else
    batch=${BATCH:-128} val_images=${VAL_IMAGES:-64} val_samples=${VAL_SAMPLES:-16}
    clf_epochs=${CLF_EPOCHS:-12} psamples=${PARZEN_SAMPLES:-10000} ptest=${PARZEN_TEST:-10000}
    pvalid=${PARZEN_VALID:-1000} fd_samples=${FD_SAMPLES:-10000} val_checks=${VAL_CHECKS:-4} fid_samples=${FID_SAMPLES:-2000}
    nn_limit=${NN_LIMIT:-3000}
fi
[ -x "$bin" ] || make -j"$(nproc)" cli >/dev/null
data="cifar10:$data_dir"
figs="$docs/results-cifar10"
mkdir -p "$out" "$figs"
log="$out/reproduce.log"
reuse=${REUSE:-0}
[ "$reuse" = 1 ] || : >"$log"
say() { echo "$*" | tee -a "$log" >&2; }
run() { say "+ $*"; "$@" 2>&1 | tee -a "$log"; return "${PIPESTATUS[0]}"; }
t_all=$(date +%s)
say "reproduce-cifar10: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $("$bin" --version 2>&1 | head -1)"
say "data $data, budget $budget min, size $size ($lap vs $gan), optimiser $optim, batch $batch, seed $seed, $threads threads, quick $quick"
say "machine: $(uptime)"

# ---- 1. measured speed: training images/s of every level of each model ----
# `lapgan bench` times real training steps on synthetic data; the split below
# gives each model a third of the budget and each level of a LAPGAN a share of
# its model's third proportional to 1/sqrt(img/s), as steps = seconds x img/s /
# batch. An equal share would give the 8x8 level (~5,500 img/s here) 80x the
# steps of the 32x32 one (~70 img/s); the square root moves time to the slow
# fine levels without starving the coarse one (2-core EPYC: 7% / 32% / 61%).
bench() { # preset [flags...] -> "size ips" lines, coarsest first
    local p=$1; shift
    "$bin" bench --preset "$p" --batch "$batch" --threads "$threads" --steps 5 --sample-batch 16 \
        --warmup 1 "$@" "${optflags[@]}" 2>>"$log" | awk '$1 == "train_img_per_s" && $2 != "total" { sub(/x.*/, "", $2); print $2, $3 }'
}
declare -A ips
if [ "$quick" = 1 ]; then
    say "QUICK: fixed step counts, no speed measurement"
elif [ "$reuse" = 1 ] && [ -s "$out/ips.txt" ]; then
    while read -r k v; do ips[$k]=$v; done <"$out/ips.txt"
    say "REUSE: speeds measured before ($out/ips.txt)"
else
    while read -r s v; do ips[gan_$s]=$v; done < <(bench "$gan")
    while read -r s v; do ips[lap_$s]=$v; done < <(bench "$lap")
    while read -r s v; do ips[cc_$s]=$v; done < <(bench "$lap" --class-conditional)
    for k in "${!ips[@]}"; do say "measured train img/s $k: ${ips[$k]}"; done
fi
for k in "${!ips[@]}"; do echo "$k ${ips[$k]}"; done >"$out/ips.txt"


# Level sizes, finest first (level 0 is the finest).
mapfile -t lap_sizes < <("$bin" train --preset "$lap" --print-json | python3 -c 'import json,sys; print("\n".join(str(l["size"]) for l in json.load(sys.stdin)["levels"]))')
nlev=${#lap_sizes[@]}
model_s=$(python3 -c "print($budget * 60 / 3)")
level_share() { # lap|cc size -> seconds of the model's third for that level
    local w="" x
    for x in "${lap_sizes[@]}"; do w+="${ips[${1}_$x]},"; done
    python3 -c "w=[v**-0.5 for v in ($w)]; print($model_s * ${ips[${1}_$2]}**-0.5 / sum(w))"
}
# 10% of each level's share goes to its validation checks (not counted in steps).
steps_for() { # img/s seconds -> steps (at least 2)
    python3 -c "import math; print(max(2, int(float('$2') * 0.9 * float('$1') / $batch)))"
}

# ---- 2. training ----------------------------------------------------------
# One `lapgan train` per level (levels share nothing), each capped at 1.5x its
# share by SIGINT (the trainer then saves a checkpoint and stops cleanly).
# OUT/levels.txt gets "steps NAME.K STEPS_DONE WALL_S" as each level ends.
touch "$out/levels.txt"
[ "$reuse" = 1 ] || : >"$out/levels.txt"
train_level() { # name preset level steps seconds [flags...]
    local name=$1 preset=$2 k=$3 n=$4 secs=$5; shift 5
    if [ "$reuse" = 1 ] && grep -q "^steps $name\.$k " "$out/levels.txt" && [ -f "$out/$name/level_$k.safetensors" ]; then
        say "REUSE: $name level $k trained before: $(grep "^steps $name\.$k " "$out/levels.txt")"
        return 0
    fi
    local every=$(( n / val_checks > 0 ? n / val_checks : 1 ))
    local cap t0 rc=0
    cap=$(python3 -c "print(int(1.5 * float('$secs')) + 60)")
    t0=$(date +%s)
    say "train $name level $k: $n steps (share ${secs%.*} s, cap $cap s), validation every $every steps"
    run timeout --preserve-status -s INT -k 120 "$cap" "$bin" train --data "$data" --preset "$preset" "$@" "${optflags[@]}" \
        --levels "$k" --steps "$n" --batch "$batch" --seed "$seed" --threads "$threads" \
        --val-every "$every" --val-images "$val_images" --val-samples "$val_samples" \
        --ckpt-every "$every" --sample-every "$every" --log-every "$(( every / 5 > 0 ? every / 5 : 1 ))" \
        --out "$out/$name" --quiet || rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 130 ] || { say "train $name level $k failed (exit $rc)"; exit 1; }
    if [ "$rc" = 130 ]; then say "train $name level $k: stopped by the time cap (checkpoint saved)"; fi
    local done_steps
    done_steps=$("$bin" info "$out/$name/level_$k.safetensors" | sed -n 's/.*, step \([0-9]*\),.*/\1/p')
    echo "steps $name.$k ${done_steps:-0} $(( $(date +%s) - t0 )) planned $n" >>"$out/levels.txt"
}
[ "$reuse" = 1 ] || rm -rf "$out/gan" "$out/lapgan" "$out/cclapgan"
if [ "$quick" = 1 ]; then
    train_level gan "$gan" 0 4 10
    for ((k = nlev - 1; k >= 0; k--)); do train_level lapgan "$lap" "$k" $(( k == nlev - 1 ? 20 : 4 )) 10; done
    for ((k = nlev - 1; k >= 0; k--)); do train_level cclapgan "$lap" "$k" $(( k == nlev - 1 ? 20 : 4 )) 10 --class-conditional; done
else
    train_level gan "$gan" 0 "$(steps_for "${ips[gan_$size]}" "$model_s")" "$model_s"
    for name in lapgan cclapgan; do
        p=lap; flags=(); [ "$name" = cclapgan ] && p=cc flags=(--class-conditional)
        for ((k = nlev - 1; k >= 0; k--)); do
            s=${lap_sizes[$k]}
            share=$(level_share "$p" "$s")
            train_level "$name" "$lap" "$k" "$(steps_for "${ips[${p}_$s]}" "$share")" "$share" "${flags[@]}"
        done
    done
fi
t_train=$(( $(date +%s) - t_all ))

# ---- 3. evaluation ----------------------------------------------------------
t_eval0=$(date +%s)
clf="$out/classifier.safetensors"
if [ -f "$clf" ] && [ "${REUSE_CLASSIFIER:-0}" = 1 ]; then
    say "classifier: reusing $clf"
else
    # The classifier takes the models' image size: SIZE 28 needs 28x28 inputs,
    # which `lapgan classifier train` cannot make from CIFAR-10 (FD is then skipped).
    if [ "$size" = 32 ]; then
        run "$bin" classifier train --data "$data" --arch "${CLF_ARCH:-vgg}" --flip --shift 4 \
            --lr-decay 0.2 --epochs "$clf_epochs" --seed "$seed" --threads "$threads" --out "$clf"
    fi
fi
has_fid=0
[ "$fid_samples" -gt 0 ] && "$bin" eval fid --help >/dev/null 2>&1 && has_fid=1
for name in gan lapgan cclapgan; do
    dir="$out/$name"
    w=(); [ -d "$dir/best" ] && w=(--best)
    run "$bin" eval parzen --model "$dir" "${w[@]}" --data "$data" --pixels all --samples "$psamples" \
        --test "$ptest" --valid "$pvalid" --seed "$seed" --threads "$threads"
    if [ -f "$clf" ]; then
        run "$bin" eval fd --model "$dir" "${w[@]}" --data "$data" --classifier "$clf" \
            --samples "$fd_samples" --seed "$seed" --threads "$threads"
    fi
    if [ "$has_fid" = 1 ]; then
        # Hook: the Inception FID/IS of `lapgan eval fid` (issue 17), when this build has it.
        run "$bin" eval fid "${data/cifar10:/cifar10-test:}" "$dir" --samples "$fid_samples" \
            --limit "$fid_samples" --with kid,prc --seed "$seed" --threads "$threads" ||
            say "eval fid on $name failed (see above); the other figures stand"
    fi
    # Figures: a grid of 100 (one row per class for CC-LAPGAN), the chain, the variability figure.
    chain=(); [ "$name" != gan ] && chain=(--chain "$figs/$name-chain.png")
    run "$bin" sample --model "$dir" "${w[@]}" -n 100 --seed "$seed" -o "$figs/$name-samples.png" "${chain[@]}" --threads "$threads"
    if [ "$name" != gan ]; then
        run "$bin" sample --model "$dir" "${w[@]}" --data "$data" --from 0,1,2,3,4,5,6,7 \
            --variants 8 --seed "$seed" -o "$figs/$name-variants.png" --threads "$threads"
    fi
    if [ "$name" = lapgan ]; then
        # Nearest training images of 8 samples: in pixels, in the classifier's features, and
        # in Inception's (the first NN_LIMIT training images: ~25 images/s on 2 cores).
        run "$bin" eval nn --model "$dir" "${w[@]}" --data "$data" -n 8 -k 5 --seed "$seed" \
            -o "$figs/$name-nn-pixel.png" --threads "$threads"
        [ -f "$clf" ] && run "$bin" eval nn --model "$dir" "${w[@]}" --data "$data" -n 8 -k 5 \
            --seed "$seed" --space classifier --classifier "$clf" -o "$figs/$name-nn-classifier.png" \
            --threads "$threads"
        [ "$has_fid" = 1 ] && run "$bin" eval nn --model "$dir" "${w[@]}" --data "$data" -n 8 -k 5 \
            --seed "$seed" --space inception --limit "$nn_limit" -o "$figs/$name-nn-inception.png" \
            --threads "$threads"
    fi
    run "$bin" report "$dir" >/dev/null
done
[ "$has_fid" = 1 ] || say "Inception FID/KID/PR not computed (FID_SAMPLES=$fid_samples, or no 'lapgan eval fid' in this build)"
t_eval=$(( $(date +%s) - t_eval0 ))
t_total=$(( $(date +%s) - t_all ))

# ---- 4. the results page ------------------------------------------------------
{
    cat "$out/levels.txt"
    for key in "${!ips[@]}"; do echo "ips $key ${ips[$key]}"; done
} >"$out/budget.txt"
python3 tools/results_cifar10.py --out "$out" --docs "$docs" --budget "$budget" --size "$size" \
    --lap "$lap" --gan "$gan" --optim "$optim" --batch "$batch" --seed "$seed" --threads "$threads" \
    --quick "$quick" --data "$data" --train-s "$t_train" --eval-s "$t_eval" --total-s "$t_total" \
    --has-fid "$has_fid" --machine "$(uptime)" --commit "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
    --clf "$clf"
say "done in $t_total s (training $t_train s, evaluation $t_eval s): $docs/results-cifar10.md, figures in $figs/"
