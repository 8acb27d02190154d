#!/usr/bin/env bash
# The verification target (docs/verification.md). `cmake --build build
# --target verify` runs it; it can also be run directly:
#
#   bash scripts/verify.sh                       # every stage
#   bash scripts/verify.sh contracts tidy        # some stages
#   MILK_VERIFY_SKIP="tsan fuzz" bash scripts/verify.sh
#
# Stages, in the order they run:
#   contracts     milkc's model check and SPIN on every .contract of the tree and
#                 on verify/contracts-broken/; the verdicts must agree
#   compile-fail  the compile-fail suite (CTest tests compile_fail.*)
#   clang         configures and builds build/verify-asan with clang-19:
#                 ASan+UBSan (no recovery), -Wconsumed as an error, the fuzzers
#   tidy          clang-tidy-19 (with the clang static analyzer's checks) on
#                 every translation unit of that build, per .clang-tidy
#   asan          the test suites of build/verify-asan under ASan+UBSan
#   fuzz          each libFuzzer target for MILK_FUZZ_SECONDS (default 60)
#   tsan          builds build/verify-tsan (clang-19, TSan) and runs the suites
#   kernel        sparse (C=2) and W=1 on milk.ko, when kernel headers exist
#
# Options: --build-dir DIR (default build/; the verify-* trees go inside it).
# Environment: MILK_JOBS (parallel jobs, default: the number of cores),
# MILK_VERIFY_STAGES (as the arguments), MILK_VERIFY_SKIP (stages to leave
# out), MILK_FUZZ_SECONDS, MILK_TIDY_SCOPE (all, or product: not tests/ and
# bench/). Exit status: 0 when every stage passed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build"
all_stages=(contracts compile-fail clang tidy asan fuzz tsan kernel)
stages=()
fuzz_one=""
fuzz_seconds_one=0
while (($#)); do
    case "$1" in
    --build-dir) build="$(cd "$2" && pwd)"; shift 2 ;;
    # scripts/fuzz.sh: build one fuzzer and run it for as long as asked.
    --run-fuzzer) fuzz_one="$2"; fuzz_seconds_one="$3"; shift 3 ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d;s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "verify: unknown option $1" >&2; exit 2 ;;
    *) stages+=("$1"); shift ;;
    esac
done
if ((${#stages[@]} == 0)); then
    read -r -a stages <<<"${MILK_VERIFY_STAGES:-${all_stages[*]}}"
fi
read -r -a skip <<<"${MILK_VERIFY_SKIP:-}"
jobs="${MILK_JOBS:-$(nproc)}"
fuzz_seconds="${MILK_FUZZ_SECONDS:-60}"
asan_dir="$build/verify-asan"
tsan_dir="$build/verify-tsan"

# Called from the verify target, this runs inside make: the nested builds
# must not join the outer make's job server with their own -j.
unset MAKEFLAGS MFLAGS MAKELEVEL

for stage in "${stages[@]}"; do
    if [[ " ${all_stages[*]} " != *" $stage "* ]]; then
        echo "verify: unknown stage '$stage' (stages: ${all_stages[*]})" >&2
        exit 2
    fi
done

wanted() {
    local stage="$1" s
    for s in "${skip[@]}"; do [[ "$s" == "$stage" ]] && return 1; done
    for s in "${stages[@]}"; do [[ "$s" == "$stage" ]] && return 0; done
    return 1
}

# Sanitizers fail hard and say where: -fno-sanitize-recover in the build,
# and halt/abort here so that a report is a failing test, never a line in a
# log that nobody reads.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# TSan sleeps atexit_sleep_ms (1 s by default) in every exiting process,
# to let other threads report; 100 ms keeps most of that and takes a second
# off each milkctl call the host tests make (a move took 1.04 s, all of it
# this sleep).
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:atexit_sleep_ms=100"

# The tests that run under the sanitizers: every suite that runs milk's own
# code. Not the compile-fail tests (they run compilers), the install test
# (it builds a project), the README tour (it builds one too), nor the VM.
sanitizer_exclude='^(compile_fail|install|vm|ship)\.|^example\.readme-tour$|^kstub\.clang19$|^milkc\.scale\.at-limits$'

# Configures a clang-19 tree for a sanitizer. Re-running it on a configured
# tree is cheap and keeps the tree incremental.
configure_clang() {
    local dir="$1" sanitize="$2" extra="$3"
    local flags="-O1 -g -fno-omit-frame-pointer -fsanitize=$sanitize -fno-sanitize-recover=all $extra"
    cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Debug \
        -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
        -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
        -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=$sanitize" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=$sanitize" \
        -DMILK_BUILD_KERNEL=OFF "${@:4}" >"$dir.configure.log" 2>&1 ||
        { cat "$dir.configure.log"; return 1; }
}

stage_contracts() {
    cmake --build "$build" --target milk_contract_verify -j "$jobs"
    local tool="$build/bin/milk_contract_verify"
    # Every contract of the tree, wherever it lives; not build trees.
    mapfile -t contracts < <(cd "$root" && find contracts examples tests bench components \
        -name '*.contract' -not -path '*/build*' 2>/dev/null | sort)
    # Both runs are judged: a disagreement in the first once passed the stage
    # unseen, because a function's status is its last command's.
    local status=0
    (cd "$root" && "$tool" --jobs "$jobs" --work "$build/verify-contracts" "${contracts[@]}") || status=1
    mapfile -t broken < <(cd "$root" && find verify/contracts-broken -name '*.contract' | sort)
    (cd "$root" && "$tool" --broken --jobs "$jobs" --work "$build/verify-contracts" "${broken[@]}") || status=1
    return "$status"
}

stage_compile_fail() {
    cmake --build "$build" --target milk_compile_fail_headers -j "$jobs"
    ctest --test-dir "$build" -R '^compile_fail\.' -j "$jobs" --output-on-failure --timeout 300
}

# One clang tree serves three stages: it is the ASan+UBSan build, the
# -Wconsumed build (MILK_WERROR makes every -Wconsumed finding an error), the
# compile database for clang-tidy, and the fuzzers' build (fuzzer-no-link
# gives libFuzzer coverage of milkc and the runtime; it costs the tests little).
stage_clang() {
    configure_clang "$asan_dir" address,undefined "-fsanitize=fuzzer-no-link -Wconsumed" -DMILK_FUZZ=ON
    cmake --build "$asan_dir" -j "$jobs"
}

stage_tidy() {
    [[ -f "$asan_dir/compile_commands.json" ]] || { echo "verify: run the clang stage first" >&2; return 1; }
    # Every translation unit of the project (not the generated ones: the
    # headers they include are checked through the tests that include them).
    # MILK_TIDY_SCOPE=product (what CI runs, for time) leaves out tests/ and
    # bench/; the default, all, takes every translation unit.
    local dirs=(codegen userland examples verify components)
    [[ "${MILK_TIDY_SCOPE:-all}" == product ]] || dirs+=(tests bench)
    local files
    mapfile -t files < <(cd "$root" && find "${dirs[@]}" \
        \( -name '*.cpp' -o -name '*.c' \) -not -path 'verify/compile-fail/*' -not -path 'kernel-stubs/*' \
        -not -path 'tests/vm/*' 2>/dev/null | sort)
    local listed=()
    for f in "${files[@]}"; do
        grep -q "\"file\": \"$root/$f\"" "$asan_dir/compile_commands.json" && listed+=("$root/$f")
    done
    echo "clang-tidy: ${#listed[@]} translation units"
    # -quiet: only findings; run-clang-tidy exits non-zero on any (WarningsAsErrors).
    run-clang-tidy-19 -quiet -p "$asan_dir" -j "$jobs" "${listed[@]}" >"$build/verify-tidy.log" 2>&1 || {
        grep -E 'error:|warning:' "$build/verify-tidy.log" | sort -u | head -100
        echo "verify: clang-tidy findings; the whole output is in $build/verify-tidy.log" >&2
        return 1
    }
    echo "clang-tidy: no findings"
}

stage_asan() {
    ctest --test-dir "$asan_dir" -E "$sanitizer_exclude" -j "$jobs" --output-on-failure --timeout 600
}

stage_fuzz() {
    local fuzz_bin="$asan_dir/fuzz" corpus_root="$asan_dir/fuzz-corpus" artifacts="$asan_dir/fuzz-artifacts/"
    mkdir -p "$artifacts"
    local targets=(fuzz_contract fuzz_decoder fuzz_heap fuzz_kstub)
    local pids=() names=() status=0
    for target in "${targets[@]}"; do
        [[ -x "$fuzz_bin/$target" ]] || { echo "verify: $fuzz_bin/$target not built (clang stage)" >&2; return 1; }
        # A working copy of the seeds: what the fuzzer learns stays in the
        # build tree, the checked-in corpus stays small.
        mkdir -p "$corpus_root/$target"
        cp -n "$root/verify/fuzz/corpus/$target/"* "$corpus_root/$target/" 2>/dev/null || true
        # libFuzzer caps an input at the largest seed by default; the
        # contract fuzzer must reach files far larger than its seeds (issue
        # 14: doc comments, deep types and counts over milkc's limits).
        local max_len=()
        [[ "$target" == fuzz_contract ]] && max_len=(-max_len=262144)
        "$fuzz_bin/$target" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 "${max_len[@]}" \
            -artifact_prefix="$artifacts$target-" -print_final_stats=1 \
            "$corpus_root/$target" >"$asan_dir/fuzz-$target.log" 2>&1 &
        pids+=($!)
        names+=("$target")
        # Keep at most $jobs fuzzers running at once.
        if ((${#pids[@]} >= jobs)); then
            wait "${pids[0]}" || { status=1; tail -40 "$asan_dir/fuzz-${names[0]}.log"; }
            echo "fuzz: ${names[0]}: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$asan_dir/fuzz-${names[0]}.log" | grep -o '[0-9]*$') runs"
            pids=("${pids[@]:1}")
            names=("${names[@]:1}")
        fi
    done
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || { status=1; tail -40 "$asan_dir/fuzz-${names[$i]}.log"; }
        echo "fuzz: ${names[$i]}: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$asan_dir/fuzz-${names[$i]}.log" | grep -o '[0-9]*$') runs"
    done
    ((status == 0)) || echo "verify: a fuzzer found a problem; the input is in $artifacts" >&2
    return "$status"
}

# TSan looks for data races, so it runs the suites with more than one
# thread or process: the runtime (rings, doorbells, heap, inproc), the
# generated endpoints, the process transport, the examples. milkc's suites
# are single-threaded (ASan and UBSan cover them); building only these
# targets keeps the stage within CI's budget.
tsan_targets=(milk_runtime_tests milk_generated_tests milk_process_tests milk_peer_death_bound
    pingpong pingpong-process file-server file-server-process tally
    milk_host_tests milk_component_tests milk_sched_tests milkd milkctl milk-host-client milk-runner placement-demo
    milk_relocation_tests relocation-demo)
# The host too: milk_host_tests (inproc instance threads, runners, the
# control contract), milk-host-client against instances in the host's
# process and in runners, milkd serving clients over its socket with
# milkctl, the placement demo, and live relocation (milk_relocation_tests:
# parking, successors, restarts, traces; the relocation demo). Left out: its config parser's suites
# (host.config.*, host.milkd.cli.*: one thread, ASan and UBSan cover them).
# Left out too: milk_mem_tests. The memory manager's handler copies out a
# page its workers wrote, ordered by the kernel's write protection of the
# page (userfaultfd), which TSan cannot see; ASan runs them. (Its components'
# channel tests run here, in milk_component_tests.)
# (doctest_discover_tests adds a placeholder <target>_NOT_BUILT test for each
# suite this stage does not build.)
tsan_exclude='^(compile_fail|install|vm|ship|kstub|diagnostics|milkc|bench|front|backend)\.|^host\.config\.|^host\.milkd\.cli\.|^example\.readme-tour$|^generated\.goldens$|_NOT_BUILT'

stage_tsan() {
    configure_clang "$tsan_dir" thread ""
    local build_targets=()
    for target in "${tsan_targets[@]}"; do
        # Only targets this tree has (a suite that does not exist yet is skipped).
        grep -q "^$target:" "$tsan_dir/Makefile" 2>/dev/null && build_targets+=(--target "$target")
    done
    cmake --build "$tsan_dir" -j "$jobs" "${build_targets[@]}"
    ctest --test-dir "$tsan_dir" -E "$tsan_exclude" -j "$jobs" --output-on-failure --timeout 600
}

stage_kernel() {
    bash "$root/verify/kernel/check_kernel_shim.sh" "$build" "$build/verify-kernel"
}

if [[ -n "$fuzz_one" ]]; then
    configure_clang "$asan_dir" address,undefined "-fsanitize=fuzzer-no-link -Wconsumed" -DMILK_FUZZ=ON
    cmake --build "$asan_dir" --target "$fuzz_one" -j "$jobs"
    mkdir -p "$asan_dir/fuzz-corpus/$fuzz_one" "$asan_dir/fuzz-artifacts"
    cp -n "$root/verify/fuzz/corpus/$fuzz_one/"* "$asan_dir/fuzz-corpus/$fuzz_one/" 2>/dev/null || true
    echo "fuzz: $fuzz_one for ${fuzz_seconds_one}s on $jobs jobs; corpus $asan_dir/fuzz-corpus/$fuzz_one"
    exec "$asan_dir/fuzz/$fuzz_one" -max_total_time="$fuzz_seconds_one" -timeout=10 -rss_limit_mb=2048 \
        -jobs="$jobs" -workers="$jobs" -artifact_prefix="$asan_dir/fuzz-artifacts/$fuzz_one-" \
        -print_final_stats=1 "$asan_dir/fuzz-corpus/$fuzz_one"
fi

timings=()
failed=()
for stage in "${all_stages[@]}"; do
    wanted "$stage" || continue
    echo "=== verify: $stage"
    start=$SECONDS
    # In a subshell of its own, not in the `if`: bash ignores `set -e` inside
    # a command that an `if` tests, so a stage's failing step would pass
    # unseen unless it was the stage's last command.
    "stage_${stage//-/_}" &
    if wait $!; then
        result=passed
    else
        result=FAILED
        failed+=("$stage")
    fi
    timings+=("$(printf '%-13s %-7s %4ds' "$stage" "$result" $((SECONDS - start)))")
done

echo "=== verify: summary"
printf '%s\n' "${timings[@]}"
if ((${#failed[@]})); then
    echo "verify: FAILED: ${failed[*]}"
    exit 1
fi
echo "verify: all stages passed"
