#!/bin/bash
# One screening/confirmation sweep of first-order DARTS (batched seeds), timed.
# usage: scan/run.sh NAME ARITH SEEDS [--set K=V ...]   (ARITH: native | avx2)
# Writes book/results/collapse/scan/NAME/ARITH/ and appends "NAME ARITH user_s sys_s wall_s" to scan/cpu_seconds.txt.
set -e
cd "$(dirname "$0")/../../../.."
name=$1; arith=$2; seeds=$3; shift 3
out=book/results/collapse/scan/$name/$arith
mkdir -p "$out"
export OMP_NUM_THREADS=1 PYTHONPATH=$PWD
if [ "$arith" = avx2 ]; then export ATEN_CPU_CAPABILITY=avx2; fi
. /work/main/.venv/bin/activate
cmd=(python -m dartslib sweep --methods ${METHODS:-darts} --spaces nb201 --seeds "$seeds" --scale toy --out "$out" --jobs 1 --batch-seeds
     --set C=8 --set cells_per_stage=5 --set image_size=8 --set batch_size=64 "$@")
echo "${ATEN_CPU_CAPABILITY:+ATEN_CPU_CAPABILITY=$ATEN_CPU_CAPABILITY }OMP_NUM_THREADS=1 ${cmd[*]}" >> "$out/command.txt"
/usr/bin/time -f "$name $arith %U %S %e" -a -o book/results/collapse/scan/cpu_seconds.txt nice -n 10 "${cmd[@]}"
