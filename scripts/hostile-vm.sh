#!/usr/bin/env bash
# The contract-driven hostile peer against milk.ko, alone and as long as
# asked (tests/hostile/contract_peer.hpp; CI runs 500,000 messages a boot):
#
#   bash scripts/hostile-vm.sh [MESSAGES] [BUILD_DIR]   default 5,000,000, build/
#
# Boots the kernel the built milk.ko is for, runs contract_peer_test with
# MILK_HOSTILE_MESSAGES=MESSAGES, and fails on any disagreement with the
# model, oops, warning or leak (tests/vm/run-vm-tests.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
messages="${1:-5000000}"
build="${2:-$root/build}"
[[ "$messages" =~ ^[0-9]+$ ]] || { echo "hostile-vm: MESSAGES must be a number, not '$messages'" >&2; exit 2; }
cmake --build "$build" --target milk_ko milk_vm_contract_peer_test -j "$(nproc)"
# About 20,000 messages a second under TCG on two CPUs, and a margin.
timeout_s=$((120 + messages / 5000))
exec bash "$root/tests/vm/run-vm-tests.sh" --module "$build/kernel-stubs/kbuild/milk.ko" \
    --work "$build/tests/vm/work-hostile" --timeout "$timeout_s" --env "MILK_HOSTILE_MESSAGES=$messages" \
    "$build/tests/vm/programs/contract_peer_test"
