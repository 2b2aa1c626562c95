#!/usr/bin/env bash
# Measures cooperative workers on one run folder: the D_rand and D_det chunk units of a profile
# computed by one process with 2 libtorch threads against two shard workers with 1 thread each,
# on the same machine, from the same trained standard model. Prints units per minute per setup
# (from the units' done records: unit start = finished - seconds) and the load average.
#
#   tools/slurm/measure-workers.sh DATA WORK [experiment options, e.g. --profile quick]
#
# LEAKAGE_CLI: how to start the CLI (default: the build in this checkout). ONLY=d_rand stops each
# pass once D_rand's chunks are done (D_det's chunks cost the same per unit).
set -euo pipefail
if [ $# -lt 2 ]; then echo "usage: $0 DATA WORK [experiment options...]" >&2; exit 2; fi
data=$1; work=$2; shift 2
read -r -a cli <<< "${LEAKAGE_CLI:-dotnet lib/Leakage.Cli/bin/Release/net10.0/Leakage.Cli.dll}"
mkdir -p "$work"

# The standard model (and the chunks of a first pass, discarded below), unless WORK/prep holds one
# already (e.g. the standard/ folder copied from a finished run with the same settings).
if [ ! -f "$work/prep/standard/metadata.json" ]; then
  "${cli[@]}" experiment --shard 0/1 --threads 2 --data "$data" --out "$work/prep" "$@" > "$work/prep.log"
fi

rate() { # folder, label, wall seconds
  /usr/bin/env python3 - "$1" "$2" "$3" <<'PY'
import json, sys, glob, os
from datetime import datetime
folder, label, wall = sys.argv[1], sys.argv[2], float(sys.argv[3])
def t(s): return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
for name in ("d_rand", "d_det"):
    done = [json.load(open(f)) for f in glob.glob(os.path.join(folder, name, "units", "*.done"))]
    if not done: continue
    start = min(t(d["finished"]) - d["seconds"] for d in done)
    end = max(t(d["finished"]) for d in done)
    per = sorted(d["seconds"] for d in done)
    print(f"{label}: {name} {len(done)} units in {end - start:.1f} s = {60 * len(done) / (end - start):.2f} units/min "
          f"(one unit {per[len(per) // 2]:.1f} s median, by {len({(d['host'], d['pid']) for d in done})} worker(s))")
print(f"{label}: whole pass {wall:.1f} s wall")
PY
}

fresh() { rm -rf "$work/$1"; cp -r "$work/prep" "$work/$1"; rm -rf "$work/$1/d_rand" "$work/$1/d_det"; }

# Waits for the given workers; with ONLY=d_rand, stops them once every D_rand chunk is done.
finish() { # folder, pids...
  local folder=$1; shift
  if [ "${ONLY:-}" = "d_rand" ]; then
    while :; do
      planned=$(/usr/bin/env python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["units"]))' "$folder/d_rand/units/plan.json" 2>/dev/null || echo 0)
      done_=$(ls "$folder/d_rand/units/"*.done 2>/dev/null | wc -l)
      if [ "$planned" -gt 0 ] && [ "$done_" -ge "$planned" ]; then kill "$@" 2>/dev/null || true; break; fi
      kill -0 "$@" 2>/dev/null || break
      sleep 2
    done
  fi
  wait "$@" || true
}

fresh one
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
s=$(date +%s.%N)
"${cli[@]}" experiment --shard 0/1 --threads 2 --data "$data" --out "$work/one" "$@" > "$work/one.log" &
finish "$work/one" $!
rate "$work/one" "1 process x 2 threads" "$(echo "$(date +%s.%N) - $s" | bc)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

fresh two
s=$(date +%s.%N)
"${cli[@]}" experiment --shard 0/2 --threads 1 --data "$data" --out "$work/two" "$@" > "$work/two-0.log" &
a=$!
"${cli[@]}" experiment --shard 1/2 --threads 1 --data "$data" --out "$work/two" "$@" > "$work/two-1.log" &
b=$!
finish "$work/two" $a $b
rate "$work/two" "2 workers x 1 thread" "$(echo "$(date +%s.%N) - $s" | bc)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
