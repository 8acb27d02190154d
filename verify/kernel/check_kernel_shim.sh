#!/usr/bin/env bash
# The kernel module's C shim under sparse and W=1 (docs/verification.md):
#
#   bash verify/kernel/check_kernel_shim.sh WORKDIR
#
# Stages kernel-stubs/ into WORKDIR as kernel-stubs/CMakeLists.txt does for
# milk_ko (Kbuild writes its objects next to the sources), then builds the
# module with `C=2` (sparse on every C file, whether rebuilt or not) and
# `W=1` (the kernel's extra warnings). Any warning or sparse report fails.
# Without the headers of an installed kernel there is nothing to build: the
# script says so and succeeds (the module is optional, as in the build).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$1"

release="${MILK_KERNEL_RELEASE:-}"
if [[ -z "$release" ]]; then
    # The newest kernel with build headers, as kernel-stubs/MilkKernel.cmake picks.
    release="$(find /lib/modules -mindepth 2 -maxdepth 3 -path '*/build/Makefile' 2>/dev/null |
        sed 's|^/lib/modules/\([^/]*\)/build/Makefile$|\1|' | sort -V | tail -1)"
fi
if [[ -z "$release" || ! -f "/lib/modules/$release/build/Makefile" ]]; then
    echo "kernel: no kernel headers installed; milk.ko not checked"
    exit 0
fi
if [[ ! -f "$root/kernel-stubs/Kbuild" ]] || ! compgen -G "$root/kernel-stubs/shim/*.c" >/dev/null; then
    echo "kernel: kernel-stubs/ has no module yet; nothing to check"
    exit 0
fi
command -v sparse >/dev/null || { echo "kernel: sparse is not installed (scripts/packages.txt)" >&2; exit 1; }

stage="$work/kbuild"
rm -rf "$stage"
mkdir -p "$stage/milk-include/milk"
cp "$root/kernel-stubs/Kbuild" "$root/kernel-stubs/Makefile" "$stage/"
cp -r "$root/kernel-stubs/core" "$root/kernel-stubs/shim" "$root/kernel-stubs/include" "$stage/"
cp "$root/userland/include/milk/result.hpp" "$root/userland/include/milk/slot.hpp" \
    "$root/userland/include/milk/ring.hpp" "$stage/milk-include/milk/"

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
