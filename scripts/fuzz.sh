#!/usr/bin/env bash
# Runs one libFuzzer target for as long as asked (docs/verification.md):
#
#   bash scripts/fuzz.sh fuzz_contract 3600        # one hour
#   bash scripts/fuzz.sh fuzz_decoder 600
#
# Targets: fuzz_contract (milkc's lexer, parser, checks, model check),
# fuzz_decoder (generated C++ decoders behind a typed endpoint), fuzz_heap
# (the exchange heap's handle checks), fuzz_kstub (the kernel stubs'
# validator). Builds the target in build/verify-asan (clang-19, ASan+UBSan)
# and runs it on MILK_JOBS workers, starting from verify/fuzz/corpus/<target>;
# new inputs go to build/verify-asan/fuzz-corpus/<target>, crashes to
# build/verify-asan/fuzz-artifacts/. A crash input reproduces with
# `build/verify-asan/fuzz/<target> <file>`. Worth adding to the checked-in
# seeds: an input that reached new code (`libFuzzer -merge=1`), kept small.
set -euo pipefail
if (($# != 2)); then
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d;s/^# \{0,1\}//'
    exit 2
fi
exec bash "$(dirname "${BASH_SOURCE[0]}")/verify.sh" --run-fuzzer "$1" "$2"
