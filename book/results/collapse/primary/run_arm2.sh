#!/bin/bash
# The second arm and the controls of issue 22 (PROTOCOL.md section 5, "Second arm"), fresh seeds 100-119,
# batched seeds, one thread, timed. Each command is the primary arm's (run.sh) with one change:
#   paper-lr/native:                 the preset's own architecture learning rate (no --set arch_lr) and its paper's
#                                    batch (64; FairDARTS 128); Single-DARTS also at its own alpha weight decay 0
#                                    (as the amended arm)
#   controls/fairdarts-no-l01:       FairDARTS without its zero-one loss (sigmoid alone)
#   controls/single-darts-softmax:   single-level update with softmax op weights, alpha weight decay 0
# usage: primary/run_arm2.sh PART   (PART: darts | fairdarts | darts-minus | sp-darts | single-darts | fairdarts-no-l01 |
#                                    single-darts-softmax)
set -e
cd "$(dirname "$0")/../../../.."
part=$1
base=book/results/collapse/primary
export OMP_NUM_THREADS=1 PYTHONPATH=$PWD
. /work/main/.venv/bin/activate
seeds=$(seq -s, 100 119)
common=(--spaces nb201 --seeds "$seeds" --scale toy --jobs 1 --batch-seeds --set C=8 --set cells_per_stage=5
        --set image_size=8 --set epochs=20 --set lr_schedule=constant --set lr=0.025
        --set max_steps_per_epoch=12)
case $part in
  darts|darts-minus|sp-darts) out=$base/paper-lr/native
    extra=(--methods "$part" --set batch_size=64 --set arch_weight_decay=0.001) ;;
  fairdarts) out=$base/paper-lr/native   # FairDARTS' own arch lr is the primary arm's 3e-3; its batch is 128
    extra=(--methods fairdarts --set batch_size=128 --set arch_weight_decay=0.001) ;;
  single-darts) out=$base/paper-lr/native; extra=(--methods single-darts --set batch_size=64 --set arch_weight_decay=0) ;;
  fairdarts-no-l01) out=$base/controls/fairdarts-no-l01
    extra=(--methods fairdarts --set batch_size=64 --set arch_lr=0.003 --set arch_weight_decay=0.001 --set zero_one_loss=none) ;;
  single-darts-softmax) out=$base/controls/single-darts-softmax
    extra=(--methods single-darts-softmax --set batch_size=64 --set arch_lr=0.003 --set arch_weight_decay=0) ;;
  *) echo "run_arm2.sh: unknown part '$part'" >&2; exit 2 ;;
esac
mkdir -p "$out"
cmd=(python -m dartslib sweep "${extra[@]}" "${common[@]}" --out "$out")
echo "OMP_NUM_THREADS=1 ${cmd[*]}" >> "$out/command.txt"
/usr/bin/time -f "$part arm2 %U %S %e" -a -o $base/cpu_seconds.txt "${cmd[@]}"
