#!/usr/bin/env bash
# The GPU check of issue 20: what a GPU does with dartslib, in at most 8 minutes, without internet.
#
#   bash benchmarks/gpu_check.sh             # on a CUDA machine: writes benchmarks/results_gpu_check.json
#   bash benchmarks/gpu_check.sh --dry-run   # on a CPU: the same script path, tiny sizes, measures nothing;
#                                            # writes benchmarks/results_gpu_check_dryrun.json
#
# Stages, each with its own time limit (and never past the 8-minute deadline):
#   1. synthetic data in CIFAR-10's on-disk format (50,000 + 10,000 random images; no download)      30 s
#   2. chapters 2 and 3 executed at toy scale on CUDA, in the background from here on          420 s each
#      (toy chapters are mostly CPU work: their small kernels share the GPU with stages 3-4, whose
#      figures are medians of 20 steps)
#   3. 20 steps of every method preset at its paper configuration, DARTS and NB201 spaces: seconds per
#      step (median, after 2 warm-up steps) and torch.cuda.max_memory_allocated                         200 s
#   4. two epochs of first-order DARTS on NAS-Bench-201 at the paper settings, timed                     120 s
#   5. the CUDA tests (the device contract on a real GPU, CUDA batches against CPU ones)                  45 s
# A stage that runs out of time is recorded as timed out and the next one starts. The JSON it writes is
# read by benchmarks/estimate_costs.py (then the Preface's cost table says "measured") and described in
# benchmarks/README.md.
set -u
cd "$(dirname "$0")/.."
DRY=""
[ "${1:-}" = "--dry-run" ] && DRY="--dry-run"
START=$(date +%s)
DEADLINE=$((START + 480))
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
DATA="$WORK/data"
OUT=benchmarks/results_gpu_check${DRY:+_dryrun}.json
STAGES="$WORK/stages.json"
echo '{"stages": {' > "$STAGES.tmp"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" DARTSLIB_RUNS="$WORK/runs" DARTSLIB_DATA="$DATA"

limit() {  # the stage's own limit, cut to what is left before the deadline
  local left=$((DEADLINE - $(date +%s)))
  [ "$left" -lt "$1" ] && echo "$left" || echo "$1"
}

stage() {  # stage NAME LIMIT_S COMMAND...: run it with its limit, record rc and seconds
  local name=$1 seconds
  seconds=$(limit "$2")
  shift 2
  if [ "$seconds" -le 5 ]; then
    echo "== $name: skipped, the 8-minute deadline is reached"
    printf '"%s": {"rc": null, "seconds": 0, "skipped": "deadline"},\n' "$name" >> "$STAGES.tmp"
    return
  fi
  echo "== $name (limit ${seconds}s): $*"
  local began rc
  began=$(date +%s)
  timeout --signal=TERM --kill-after=10 "$seconds" "$@" > "$WORK/$name.log" 2>&1
  rc=$?
  tail -n 5 "$WORK/$name.log"
  [ "$rc" = 124 ] && echo "== $name: timed out after ${seconds}s"
  printf '"%s": {"rc": %s, "seconds": %s, "timed_out": %s},\n' "$name" "$rc" "$(($(date +%s) - began))" \
    "$([ "$rc" = 124 ] && echo true || echo false)" >> "$STAGES.tmp"
}

stage data 30 python benchmarks/gpu_check.py data --root "$DATA" --json "$WORK/data.json" $DRY
if [ -n "$DRY" ]; then
  echo "== chapters: skipped in a dry run (minutes each on a shared CPU; they run at toy scale in the book build)"
  printf '"chapters": {"rc": null, "seconds": 0, "skipped": "dry run"},\n' >> "$STAGES.tmp"
else
  for nb in 02_unfair_advantage 03_discretization_gap; do
    stage "$nb" 420 env DARTSLIB_SCALE=toy python benchmarks/gpu_check.py notebook "nbs/$nb.ipynb" \
      --root "$WORK/notebooks" --json "$WORK/$nb.json" &
  done
fi
stage presets 200 python benchmarks/gpu_check.py presets --root "$DATA" --json "$WORK/presets.json" $DRY
stage nb201 120 python benchmarks/gpu_check.py nb201 --root "$DATA" --json "$WORK/nb201.json" $DRY
stage cuda_tests 45 python -m pytest -q -p no:cacheprovider tests/test_device_contract.py tests/test_data.py \
  -k "cuda or gpu or contract"
wait  # the chapters
DEVICE=$(python -c "import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')")
printf '"total": {"seconds": %s}}, "device": "%s", "torch": "%s", "dry_run": %s, "date": "%s"}\n' \
  "$(($(date +%s) - START))" "$DEVICE" "$(python -c 'import torch; print(torch.__version__)')" \
  "$([ -n "$DRY" ] && echo true || echo false)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >> "$STAGES.tmp"
mv "$STAGES.tmp" "$STAGES"
python benchmarks/gpu_check.py merge --json "$OUT" "$WORK/data.json" "$WORK/presets.json" "$WORK/nb201.json" \
  "$WORK/02_unfair_advantage.json" "$WORK/03_discretization_gap.json" "$STAGES"
echo "wrote $OUT ($(($(date +%s) - START)) s); logs in $WORK"
[ -z "$DRY" ] && python benchmarks/estimate_costs.py
exit 0
