#!/usr/bin/env bash
# The training recipe from the command line: --momentum-style, the presets'
# Torch7 momentum in the model description, and the schedule's epoch (one
# pass of the batch's real half, ceil(n / (batch / 2)) steps) as the JSONL
# log reports it.
set -u
source "$(dirname "$0")/lib.sh"
B=$bin

# The presets use the authors' optim.sgd momentum; --momentum-style changes it.
check preset_torch7 bash -c "'$B' train --preset cifar10 --print-json | grep -q '\"momentum_style\":\"torch7\"'"
check print_model_torch7 bash -c "'$B' train --preset cifar10 --print-model | grep -q 'Torch7 optim.sgd: dampening = momentum'"
check flag_pytorch bash -c "'$B' train --preset tiny --momentum-style pytorch --print-json | grep -q '\"momentum_style\":\"pytorch\"'"
check flag_pytorch_model bash -c "'$B' train --preset tiny --momentum-style pytorch --print-model | grep -q 'PyTorch: no dampening'"
check help_momentum_style bash -c "'$B' train --help | grep -q -- '--momentum-style'"
expect_fail bad_momentum_style 2 "--momentum-style: unknown momentum style 'Torch7' \(torch7 or pytorch\)" \
  "$B" train --preset tiny --momentum-style Torch7 --print-json
expect_fail momentum_style_value 2 "--momentum-style needs a value" "$B" train --momentum-style

# 40 images of 28x28 at batch 16: 8 real images a step, 5 steps an epoch
# (the whole-batch count would make it 2.5). lr_decay 1 halves the lr and
# mom_step 0.1 raises the momentum at each epoch boundary.
/usr/bin/python3 - "$tmp" <<'EOF' || fail make_data "could not write the idx files"
import random, struct, sys
random.seed(5)
n, d = 40, sys.argv[1]
with open(d + "/img.idx", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, n, 28, 28) + bytes(random.randrange(256) for _ in range(n * 784)))
with open(d + "/lab.idx", "wb") as f:
    f.write(struct.pack(">II", 0x801, n) + bytes(i % 4 for i in range(n)))
EOF
"$B" train --preset tiny --print-json > "$tmp/tiny.json"
/usr/bin/python3 - "$tmp/tiny.json" <<'EOF' || fail edit_json "could not edit the model file"
import json, sys
m = json.load(open(sys.argv[1]))
m["optim"].update(lr=0.01, lr_decay=1.0, momentum=0.5, mom_step=0.1, mom_max=0.8)
json.dump(m, open(sys.argv[1], "w"))
EOF
if "$B" train --model "$tmp/tiny.json" --data "idx:$tmp/img.idx,$tmp/lab.idx" --levels 2 --val 0 \
    --steps 11 --log-every 1 --ckpt-every 0 --sample-every 0 --out "$tmp/run" --quiet --threads 2 \
    >"$tmp/train.out" 2>&1; then
  # step, epoch, lr, momentum of each log line (after that step).
  /usr/bin/python3 - "$tmp/run/log_level_2.jsonl" >"$tmp/sched" 2>&1 <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "d_loss" not in r:  # not a training step's line (validation)
        continue
    print(r["step"], "%.4f" % r["epoch"], "%.6g" % r["lr"], "%.6g" % r["momentum"])
EOF
  want='1 0.2000 0.01 0.5
2 0.4000 0.01 0.5
3 0.6000 0.01 0.5
4 0.8000 0.01 0.5
5 1.0000 0.005 0.6
6 1.2000 0.005 0.6
7 1.4000 0.005 0.6
8 1.6000 0.005 0.6
9 1.8000 0.005 0.6
10 2.0000 0.0025 0.7
11 2.2000 0.0025 0.7'
  if [ "$(cat "$tmp/sched")" = "$want" ]; then pass epoch_is_real_half_pass
  else fail epoch_is_real_half_pass "log gave: $(tr '\n' ';' <"$tmp/sched")"; fi
  # --epochs counts the same epochs: 2 epochs = 10 steps.
  if "$B" train --model "$tmp/tiny.json" --data "idx:$tmp/img.idx,$tmp/lab.idx" --levels 2 --val 0 \
      --epochs 2 --log-every 1 --ckpt-every 0 --sample-every 0 --out "$tmp/run2" --quiet \
      --threads 2 >"$tmp/train2.out" 2>&1 &&
      [ "$(grep -c '"d_loss"' "$tmp/run2/log_level_2.jsonl")" -eq 10 ]; then
    pass epochs_flag_steps
  else fail epochs_flag_steps "$(tail -c 300 "$tmp/train2.out")"; fi
else
  fail epoch_is_real_half_pass "training failed: $(tail -c 300 "$tmp/train.out")"
fi
finish
