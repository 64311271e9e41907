#!/bin/bash
# The primary arm of issue 22 (PROTOCOL.md section 5): every ranked method at the regime's settings,
# fresh seeds 100-119, batched seeds, one thread, timed.
# usage: primary/run.sh ARITH [METHODS]   (ARITH: native | avx2; METHODS comma-separated)
set -e
cd "$(dirname "$0")/../../../.."
arith=${1:-native}; methods=${2:-fairdarts,darts-minus,sp-darts,single-darts,darts}
out=book/results/collapse/primary/$arith
mkdir -p "$out"
export OMP_NUM_THREADS=1 PYTHONPATH=$PWD
if [ "$arith" = avx2 ]; then export ATEN_CPU_CAPABILITY=avx2; fi
. /work/main/.venv/bin/activate
seeds=$(seq -s, 100 119)
for m in ${methods//,/ }; do
  cmd=(python -m dartslib sweep --methods "$m" --spaces nb201 --seeds "$seeds" --scale toy --out "$out" --jobs 1
       --batch-seeds --set C=8 --set cells_per_stage=5 --set image_size=8 --set batch_size=64 --set epochs=20
       --set arch_lr=0.003 --set lr_schedule=constant --set lr=0.025 --set arch_weight_decay=0.001
       --set max_steps_per_epoch=12)
  echo "${ATEN_CPU_CAPABILITY:+ATEN_CPU_CAPABILITY=$ATEN_CPU_CAPABILITY }OMP_NUM_THREADS=1 ${cmd[*]}" >> "$out/command.txt"
  /usr/bin/time -f "$m $arith %U %S %e" -a -o book/results/collapse/primary/cpu_seconds.txt nice -n 10 "${cmd[@]}"
done
