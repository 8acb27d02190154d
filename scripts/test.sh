#!/usr/bin/env bash
# The README's second command, and what CI runs: installs what is missing,
# builds everything, and runs the whole test suite. The last lines are CTest's
# summary, and the exit status is CTest's.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="${MILK_JOBS:-$(nproc)}"

bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh"

# --timeout is a backstop for tests that set none: a hang fails the run
# instead of stalling it.
exec ctest --test-dir "$root/build" --output-on-failure -j "$jobs" --timeout 600
