#!/usr/bin/env bash
# Model description files from the command line: one-line refusals that name
# the file, the key and what is allowed; files and runs of the previous
# release (tests/fixtures/release-0.1.0); --print-json / --print-model with
# --class-conditional; docs/model-format.md lists every key.
set -u
source "$(dirname "$0")/lib.sh"
B=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
root=$(cd "$(dirname "$0")/../.." && pwd)
old=$root/tests/fixtures/release-0.1.0

"$B" train --preset tiny --print-json > "$tmp/tiny.json"
edit() { sed "$1" "$tmp/tiny.json" > "$tmp/$2.json"; }
edit 's/"kind":"sgd"/"kind":"Adam"/' adam
expect_fail kind_capital 1 "adam.json: model key 'optim.kind' is \"Adam\"; allowed: one of: sgd, adam" \
  "$B" train --model "$tmp/adam.json" --print-model
edit 's/"init":"torch"/"init":"Normal"/' init
expect_fail init_capital 1 "init.json: model key 'init' is \"Normal\"; allowed: one of: torch, normal" \
  "$B" train --model "$tmp/init.json" --print-json
edit 's/"g_bn":false/"g_bn":false,"g_bm":true/' typo
expect_fail unknown_key 1 "typo.json: unknown model key 'levels\[0\].g_bm'.*known: size, fc" \
  "$B" train --model "$tmp/typo.json" --print-model
edit 's/"crop":0,//' missing
expect_fail missing_key 1 "missing.json: model key 'crop' is missing" "$B" train --model "$tmp/missing.json" --print-model
edit 's/"lr":0.0199[0-9]*/"lr":25/' lr
expect_fail lr_range 1 "lr.json: model key 'optim.lr' is 25; allowed: a number in \(0, 10\)" \
  "$B" train --model "$tmp/lr.json" --print-model
edit 's/"beta1":0.89*[0-9]*/"beta1":0/' beta0
check beta1_zero_kept bash -c "'$B' train --model '$tmp/beta0.json' --print-json | grep -q '\"beta1\":0.0,'"
check flip_in_model bash -c "'$B' train --preset tiny --flip --print-json | grep -q '\"crop\":0,\"flip\":1,' && '$B' train --preset tiny --flip --print-model | grep -q 'random left-right flips'"

# The previous release's files load with the meaning they had.
check old_file_loads bash -c "'$B' train --model '$old/cifar10.json' --print-json | grep -q '\"format\":\"lapgan-model-5\".*\"beta1\":0.89.*\"momentum_style\":\"pytorch\"'"
check old_file_print_model bash -c "'$B' train --model '$old/fashion_dcgan.json' --print-model | grep -q 'Adam lr 0.0002, betas 0.5 0.999'"

# A run of the previous release resumes (the data set as it was: 40 images, seed 5).
cd "$tmp" || exit 1
/usr/bin/python3 - <<'EOF' || fail make_data "could not write the idx files"
import random, struct
random.seed(5)
n = 40
with open("img.idx", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, n, 28, 28) + bytes(random.randrange(256) for _ in range(n * 784)))
with open("lab.idx", "wb") as f:
    f.write(struct.pack(">II", 0x801, n) + bytes(i % 4 for i in range(n)))
EOF
cp -r "$old/tiny_adam" run_adam && cp -r "$old/tiny_sgd" run_sgd
common=(--preset tiny --data idx:img.idx,lab.idx --levels 2 --steps 5 --seed 4 --quiet --threads 2
        --sample-every 0 --ckpt-every 0 --resume)
check old_adam_run_resumes bash -c "'$B' train ${common[*]} --adam --out run_adam && '$B' info run_adam | grep -q 'step 5'"
expect_fail old_sgd_run_momentum 1 "optim.momentum_style.*\"pytorch\" in the run, \"torch7\" given" \
  "$B" train "${common[@]}" --out run_sgd
check old_sgd_run_resumes bash -c "'$B' train ${common[*]} --momentum-style pytorch --out run_sgd && '$B' info run_sgd | grep -q 'step 5'"

# --class-conditional reaches --print-json and --print-model (classes from the data).
check print_json_cc bash -c "'$B' train --preset tiny --class-conditional --data idx:img.idx,lab.idx --print-json | grep -q '\"classes\":4'"
check print_model_cc bash -c "'$B' train --preset tiny --class-conditional --data idx:img.idx,lab.idx --print-model | grep -q 'class-conditional (4 classes)'"
check print_json_plain bash -c "'$B' train --preset tiny --data idx:img.idx,lab.idx --print-json | grep -q '\"classes\":0'"
expect_fail print_cc_unlabelled 2 "needs a labelled data set" \
  "$B" train --preset tiny --class-conditional --data idx:img.idx --print-json
expect_fail print_cc_no_data 1 "$tmp/none" "$B" train --preset tiny --class-conditional --data "idx:$tmp/none" --print-model

# docs/model-format.md names every key --print-json writes.
"$B" train --preset cifar10 --print-json > "$tmp/c.json"
if /usr/bin/python3 - "$tmp/c.json" "$root/docs/model-format.md" >"$tmp/keys" 2>&1 <<'EOF'
import json, re, sys
m = json.load(open(sys.argv[1]))
doc = open(sys.argv[2]).read()
keys = set(m) | set(m["optim"]) | set(m["levels"][0])
missing = sorted(k for k in keys if not re.search(r"`%s`" % re.escape(k), doc))
print(" ".join(missing))
sys.exit(1 if missing else 0)
EOF
then pass doc_lists_every_key; else fail doc_lists_every_key "not in docs/model-format.md: $(cat "$tmp/keys")"; fi
finish
