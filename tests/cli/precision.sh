#!/usr/bin/env bash
# --precision fp32|bf16 on train, sample, bench and eval: bad values are
# usage errors; a CPU without bf16 instructions (LG_NO_BF16=1 plays one)
# gets one line and exit 1 from every command, never a silent fp32 run;
# where the CPU has bf16, a bf16 run trains (Winograd and oneDNN layers of
# the fashion preset's 28x28 level), differs from fp32, resumes bit for bit,
# writes fp32 checkpoints and samples in either precision.
. "$(dirname "$0")/lib.sh"
nobf16='bf16 needs a CPU with AVX512-BF16 or AMX-BF16'
T=(--preset fashion --levels 0 --batch 8 --threads 2 --seed 3 --quiet --ckpt-every 2)

expect_fail bad_value 2 "--precision wants fp32 or bf16, got 'fp16'" \
  "$bin" train --preset tiny --steps 1 --precision fp16 --out "$tmp/x"
expect_fail missing_value 2 "--precision needs a value" "$bin" bench --precision
expect_fail ref_bf16 2 "ref is the float32 oracle" \
  "$bin" train --preset tiny --steps 1 --backend ref --precision bf16 --out "$tmp/x"
expect_fail no_bf16_train 1 "$nobf16" \
  env LG_NO_BF16=1 "$bin" train --preset tiny --steps 1 --precision bf16 --out "$tmp/nb"
check no_bf16_no_run test ! -e "$tmp/nb"
expect_fail no_bf16_bench 1 "$nobf16" env LG_NO_BF16=1 "$bin" bench --preset tiny --precision bf16
expect_fail no_bf16_sample 1 "$nobf16" \
  env LG_NO_BF16=1 "$bin" sample --model "$tmp/none" --precision bf16
expect_fail no_bf16_eval 1 "$nobf16" \
  env LG_NO_BF16=1 "$bin" eval parzen --model "$tmp/none" --precision bf16
expect_fail no_bf16_fid 1 "$nobf16" \
  env LG_NO_BF16=1 "$bin" eval fid "$tmp/a" "$tmp/b" --precision bf16

if ! grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo; then
  skip_absent bf16_runs "this CPU has no AVX512-BF16 or AMX-BF16 (lscpu flags)"
  finish; exit
fi
"$bin" train "${T[@]}" --steps 4 --precision bf16 --out "$tmp/a" &&
  "$bin" train "${T[@]}" --steps 2 --precision bf16 --out "$tmp/b" &&
  "$bin" train "${T[@]}" --steps 4 --precision bf16 --resume --out "$tmp/b" &&
  "$bin" train "${T[@]}" --steps 4 --out "$tmp/c" || { fail bf16_train "training failed"; finish; exit; }
check bf16_resume_bit_identical cmp "$tmp/a/level_0.safetensors" "$tmp/b/level_0.safetensors"
check bf16_is_not_fp32 bash -c "! cmp -s '$tmp/a/level_0.safetensors' '$tmp/c/level_0.safetensors'"
check bf16_checkpoint_is_f32 bash -c \
  "head -c 4096 '$tmp/a/level_0.safetensors' | grep -q '\"dtype\":\"F32\"' &&
   ! head -c 4096 '$tmp/a/level_0.safetensors' | grep -q 'BF16'"
check bench_bf16 bash -c "'$bin' bench --preset tiny --steps 1 --warmup 0 --threads 2 --precision bf16 | grep -q ', bf16$'"

# LG_BF16_WINOGRAD: what the Winograd layers do in bf16 (fp32 kernels, bf16
# multiply, or oneDNN's bf16 primitives); each trains and gives its own
# bits, unset is fp32 on every CPU (AMX included: measured, docs/nn.md); a
# value that means nothing
# is refused before anything is written.
expect_fail bf16_winograd_bad_value 2 "LG_BF16_WINOGRAD=fast: expected fp32, bf16 or dnnl" \
  env LG_BF16_WINOGRAD=fast "$bin" train "${T[@]}" --steps 1 --precision bf16 --out "$tmp/wbad"
check bf16_winograd_bad_value_no_run test ! -e "$tmp/wbad"
for m in fp32 dnnl; do
  env LG_BF16_WINOGRAD=$m "$bin" train "${T[@]}" --steps 4 --precision bf16 --out "$tmp/w$m" ||
    fail "bf16_winograd_$m" "training with LG_BF16_WINOGRAD=$m failed"
done
differ() { ! cmp -s "$tmp/$1/level_0.safetensors" "$tmp/$2/level_0.safetensors"; }
# The bf16 multiply exists where the build has the AVX512-BF16 Winograd
# kernel (-march=native on such a CPU); a build without it (the sanitizer
# build: no -march) refuses it in one line rather than run something else.
if env LG_BF16_WINOGRAD=bf16 "$bin" train "${T[@]}" --steps 4 --precision bf16 --out "$tmp/wbf16" \
     2>"$tmp/wbf16.err"; then
  check bf16_winograd_modes_differ bash -c "$(declare -f differ); tmp='$tmp'; differ wfp32 wdnnl && differ wfp32 wbf16 && differ wbf16 wdnnl"
else
  expect_fail bf16_winograd_mult_refused_without_kernel 1 "LG_BF16_WINOGRAD=bf16: this build has no AVX512-BF16 Winograd kernel" \
    env LG_BF16_WINOGRAD=bf16 "$bin" train "${T[@]}" --steps 1 --precision bf16 --out "$tmp/wbf16b"
  check bf16_winograd_mult_refused_no_run test ! -e "$tmp/wbf16b"
  check bf16_winograd_modes_differ bash -c "$(declare -f differ); tmp='$tmp'; differ wfp32 wdnnl"
fi
check bf16_winograd_default_is_wfp32 cmp "$tmp/a/level_0.safetensors" "$tmp/wfp32/level_0.safetensors"
