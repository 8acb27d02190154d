#!/usr/bin/env bash
# The benchmark, in one command: builds milk-bench in Release and runs it.
# The table goes to the terminal and to build/bench/milk-bench.txt; the JSON
# (build/bench/milk-bench.json) and the plot (build/bench/round-trip-vs-size.png)
# next to it. docs/performance.md explains every row.
#
#   bash scripts/bench.sh                                    # default run, under a minute
#   bash scripts/bench.sh --iterations 2000000 --max-seconds 10 --stream-max-seconds 5
#
# Arguments go to milk-bench (`build-release/bin/milk-bench --help` lists them).
# Run it on a quiet machine: other jobs on the two CPUs show up in every number.
# MILK_JOBS sets the build's parallelism (default: the number of cores).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# A tree of its own, so that build/ (RelWithDebInfo, scripts/build.sh) is not
# reconfigured back and forth.
build="$root/build-release"
out="$root/build/bench"
jobs="${MILK_JOBS:-$(nproc)}"

# Release (-O3), with the project's warnings as errors like every build.
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
      -DMILK_BUILD_TESTS=OFF -DMILK_BUILD_EXAMPLES=OFF -DMILK_BUILD_KERNEL=OFF
cmake --build "$build" --target milk-bench -j "$jobs"

mkdir -p "$out"
read -r load _ < /proc/loadavg
cpus="$(nproc)"
if awk -v load="$load" -v cpus="$cpus" 'BEGIN { exit !(load > 0.5 * cpus) }'; then
    echo "bench.sh: the machine is busy (load average $load on $cpus CPUs): expect noisy numbers" >&2
fi
"$build/bin/milk-bench" --out "$out" "$@" | tee "$out/milk-bench.txt"
