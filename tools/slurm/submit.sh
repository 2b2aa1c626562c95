#!/usr/bin/env bash
# Submits one experiment to Slurm as a job array of SHARDS tasks plus a finishing job that starts
# when every task succeeded (afterok). All arguments after SHARDS go to `experiment` unchanged and
# must name the shared run folder (--out) and data (--data) on a file system every node sees.
#
#   tools/slurm/submit.sh 8 --profile paper --data /shared/cifar10 --out /shared/runs/paper
#
# Environment: LEAKAGE_CLI (how to start the CLI on a node; default: the build in this checkout),
# SBATCH_ARGS (extra sbatch options for both jobs, e.g. "--partition=gpu --gres=gpu:1"),
# ARRAY_FIRST (first array id, default 0; 1 works the same way).
# Prints the two job ids: "<array job id> <finishing job id>".
set -euo pipefail
if [ $# -lt 1 ] || ! [[ "$1" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 SHARDS experiment-options... (SHARDS: a positive number of array tasks)" >&2
  exit 2
fi
shards=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
first=${ARRAY_FIRST:-0}
read -r -a extra <<< "${SBATCH_ARGS:-}"
array=$(sbatch --parsable "${extra[@]}" --array="${first}-$(( first + shards - 1 ))" "$here/shard.sbatch" "$@")
array=${array%%;*}
finish=$(sbatch --parsable "${extra[@]}" --dependency="afterok:${array}" "$here/finish.sbatch" "$@")
finish=${finish%%;*}
echo "${array} ${finish}"
