#!/usr/bin/env bash
# The kernel module's C shim under sparse and W=1 (docs/verification.md):
#
#   bash verify/kernel/check_kernel_shim.sh BUILD_DIR WORKDIR
#
# Builds milk_ko in BUILD_DIR (which stages the module's sources), copies the
# staged tree into WORKDIR (Kbuild writes its objects next to the sources),
# and builds it again with `C=2` (sparse on every C file, whether rebuilt or
# not) and `W=1` (the kernel's extra warnings). Any warning or sparse report
# fails, for every kernel milk_ko builds for. Without the headers of an
# installed kernel, or with the module switched off (MILK_BUILD_KERNEL=OFF),
# there is nothing to build: the script says so and succeeds, as the build
# skips the module then.
set -euo pipefail

build="$1"
work="$2"
mkdir -p "$work"

if ! compgen -G "/lib/modules/*/build/Makefile" >/dev/null; then
    echo "kernel: no kernel headers installed; milk.ko not checked"
    exit 0
fi
if ! grep -q '^milk_ko:' "$build/Makefile" 2>/dev/null && ! grep -q 'milk_ko' "$build/build.ninja" 2>/dev/null; then
    echo "kernel: $build has no milk_ko target (MILK_BUILD_KERNEL=OFF); milk.ko not checked"
    exit 0
fi
command -v sparse >/dev/null || { echo "kernel: sparse is not installed (scripts/packages.txt)" >&2; exit 1; }

# The trees milk_ko stages (kernel-stubs/CMakeLists.txt: sources, runtime
# headers, the validators milkc generates), one per kernel it builds for
# (kbuild/ and kbuild-<release>/, kernel-stubs/releases.cmake), each copied
# so that this build's objects do not mix with milk_ko's. Every kernel is
# checked: 6.12's W=1 and objtool warn about things 6.1's do not.
cmake --build "$build" --target milk_ko -j "${MILK_JOBS:-$(nproc)}" >"$work/milk_ko.log" 2>&1 ||
    { tail -30 "$work/milk_ko.log"; echo "kernel: milk_ko does not build" >&2; exit 1; }
failed=0
for module in "$build"/kernel-stubs/kbuild/milk.ko "$build"/kernel-stubs/kbuild-*/milk.ko; do
    [[ -f $module ]] || continue
    release="$(modinfo -F vermagic "$module" | awk '{print $1}')"
    stage="$work/kbuild-$release"
    rm -rf "$stage"
    cp -r "$(dirname "$module")" "$stage"
    find "$stage" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o -name '*.mod*' \) -delete

    log="$work/kbuild-$release.log"
    status=0
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
        make -C "/lib/modules/$release/build" M="$stage" C=2 CHECK=sparse W=1 modules >"$log" 2>&1 || status=$?
    # Sparse, the compilers and objtool report as "file:line:col: warning:
    # ..." or "error: ...".
    findings="$(grep -E '(warning|error):' "$log" || true)"
    if ((status != 0)) || [[ -n "$findings" ]]; then
        echo "kernel: milk.ko is not clean under sparse and W=1 (for $release):"
        if [[ -n "$findings" ]]; then echo "$findings"; else tail -30 "$log"; fi
        failed=1
        continue
    fi
    echo "kernel: milk.ko for $release: sparse (C=2) and W=1 clean"
    grep -E '^\s+CHECK' "$log" || true
done
exit "$failed"
