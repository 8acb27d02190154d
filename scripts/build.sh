#!/usr/bin/env bash
# Configures milk into build/ and builds it (or only the targets given as
# arguments). Used by demo.sh and test.sh; expects the packages to be installed.
#
#   bash scripts/build.sh                    # everything
#   bash scripts/build.sh pingpong milkc     # some targets
#
# MILK_JOBS sets the build's parallelism (default: the number of cores).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build"
jobs="${MILK_JOBS:-$(nproc)}"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo

targets=()
for target in "$@"; do
    targets+=(--target "$target")
done
cmake --build "$build" -j "$jobs" "${targets[@]}"
