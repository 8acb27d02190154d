#!/usr/bin/env bash
# The kernel module's C shim under sparse and W=1 (docs/verification.md):
#
#   bash verify/kernel/check_kernel_shim.sh BUILD_DIR WORKDIR
#
# Builds milk_ko in BUILD_DIR (which stages the module's sources), copies the
# staged tree into WORKDIR (Kbuild writes its objects next to the sources),
# and builds it again with `C=2` (sparse on every C file, whether rebuilt or
# not) and `W=1` (the kernel's extra warnings). Any warning or sparse report
# fails. Without the headers of an installed kernel, or with the module
# switched off (MILK_BUILD_KERNEL=OFF), there is nothing to build: the script
# says so and succeeds, as the build skips the module then.
set -euo pipefail

build="$1"
work="$2"
mkdir -p "$work"

release="${MILK_KERNEL_RELEASE:-}"
if [[ -z "$release" ]]; then
    # The newest kernel with build headers, as kernel-stubs/MilkKernel.cmake picks.
    # (`build` is a symbolic link into /usr/src, so a glob, not find.)
    for makefile in /lib/modules/*/build/Makefile; do
        [[ -f "$makefile" ]] || continue
        candidate="${makefile#/lib/modules/}"
        candidate="${candidate%%/*}"
        if [[ -z "$release" ]] || [[ "$(printf '%s\n%s\n' "$release" "$candidate" | sort -V | tail -1)" == "$candidate" ]]; then
            release="$candidate"
        fi
    done
fi
if [[ -z "$release" || ! -f "/lib/modules/$release/build/Makefile" ]]; then
    echo "kernel: no kernel headers installed; milk.ko not checked"
    exit 0
fi
if ! grep -q '^milk_ko:' "$build/Makefile" 2>/dev/null && ! grep -q 'milk_ko' "$build/build.ninja" 2>/dev/null; then
    echo "kernel: $build has no milk_ko target (MILK_BUILD_KERNEL=OFF); milk.ko not checked"
    exit 0
fi
command -v sparse >/dev/null || { echo "kernel: sparse is not installed (scripts/packages.txt)" >&2; exit 1; }

# The tree milk_ko stages (kernel-stubs/CMakeLists.txt: sources, runtime
# headers, the validators milkc generates), copied so that this build's
# objects do not mix with milk_ko's.
cmake --build "$build" --target milk_ko -j "${MILK_JOBS:-$(nproc)}" >"$work/milk_ko.log" 2>&1 ||
    { tail -30 "$work/milk_ko.log"; echo "kernel: milk_ko does not build" >&2; exit 1; }
stage="$work/kbuild"
rm -rf "$stage"
cp -r "$build/kernel-stubs/kbuild" "$stage"
find "$stage" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o -name '*.mod*' \) -delete

log="$work/kbuild.log"
status=0
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
    make -C "/lib/modules/$release/build" M="$stage" C=2 CHECK=sparse W=1 modules >"$log" 2>&1 || status=$?
# Sparse and the compilers report as "file:line:col: warning: ..." or
# "error: ...".
findings="$(grep -E '(warning|error):' "$log" || true)"
if ((status != 0)) || [[ -n "$findings" ]]; then
    echo "kernel: milk.ko is not clean under sparse and W=1 (for $release):"
    if [[ -n "$findings" ]]; then echo "$findings"; else tail -30 "$log"; fi
    exit 1
fi
echo "kernel: milk.ko for $release: sparse (C=2) and W=1 clean"
grep -E '^\s+CHECK' "$log" || true
