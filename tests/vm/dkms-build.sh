#!/usr/bin/env bash
# Runs the real DKMS life cycle of milk.ko (add, build, install, status,
# remove) for one installed kernel, with every DKMS tree private to a
# scratch directory, and checks what DKMS produced:
#
#   dkms-build.sh --stage build/kernel-stubs/kbuild --release <release>
#                 [--version <project version>] [--work DIR]
#
# The source DKMS gets is a copy of the staged tree (what the milk_ko target
# makes) after `make clean`, so DKMS builds from the sources alone, as it
# does on a user's machine. The test fails when: the cleaned copy still holds
# a build product; dkms.conf's PACKAGE_VERSION is not the project's version;
# any dkms step fails; `dkms status` does not say "installed"; the module
# DKMS built has another name, a vermagic that is not the kernel's (the
# release, and the whole string of a module the kernel ships, when the
# kernel image is installed), or no signature by the private key; the
# installed copy differs from the built one; depmod over the private install
# tree does not list milk.ko or finds an unknown symbol; `dkms remove` leaves
# the module behind; or anything under /var/lib/dkms, /usr/src or
# /lib/modules/<release> changed.
#
# Why the host stays untouched: --dkmstree, --sourcetree and --installtree
# point into the scratch directory; --no-depmod stops DKMS from running
# depmod on /lib/modules/<release> (this script runs depmod -b on the private
# tree instead); TMPDIR moves DKMS's temporary files; and mok_signing_key /
# mok_certificate (DKMS reads them from the environment when
# /etc/dkms/framework.conf does not set them) make DKMS generate its
# self-signed signing key in the scratch directory instead of
# /var/lib/dkms/mok.key. `dkms install` needs root; run as another user the
# test stops after `dkms build` and says so.
#
# Exits 77 (CTest's skip code here) when dkms or the release's headers are
# absent.
set -euo pipefail

stage=""
release=""
version=""
work_parent=""
while (($#)); do
    case "$1" in
    --stage) stage=$2; shift 2 ;;
    --release) release=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    --work) work_parent=$2; shift 2 ;;
    -h | --help) sed -n '2,33p' "$0"; exit 0 ;;
    *) echo "dkms-build: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -n $stage && -n $release ]] || {
    echo "usage: dkms-build.sh --stage DIR --release RELEASE [--version VERSION] [--work DIR]" >&2
    exit 2
}

fail() {
    echo "dkms-build: FAIL: $*" >&2
    exit 1
}

# dkms lives in /usr/sbin, which an ordinary user's PATH may lack.
PATH="$PATH:/usr/sbin:/sbin"
if ! command -v dkms >/dev/null; then
    echo "dkms-build: SKIP: dkms is not installed (apt-get install dkms)"
    exit 77
fi
kernel_build="/lib/modules/$release/build"
if [[ ! -d $kernel_build/include ]]; then
    echo "dkms-build: SKIP: no headers for $release ($kernel_build)"
    exit 77
fi
[[ -f $stage/dkms.conf && -f $stage/Kbuild ]] ||
    fail "$stage is not a staged milk.ko tree (build the milk_ko target first)"

# dkms.conf is a shell fragment that DKMS sources, with the variables it
# refers to (kernel_source_dir, dkms_tree) set; here they are empty.
# shellcheck disable=SC1091,SC2153
package_name="$(set +u && . "$stage/dkms.conf" && echo "$PACKAGE_NAME")"
# shellcheck disable=SC1091,SC2153
package_version="$(set +u && . "$stage/dkms.conf" && echo "$PACKAGE_VERSION")"
if [[ -n $version && $package_version != "$version" ]]; then
    fail "dkms.conf says PACKAGE_VERSION=$package_version, the project is $version"
fi

if [[ -n $work_parent ]]; then
    mkdir -p "$work_parent"
    work="$(mktemp -d "$work_parent/dkms.XXXXXX")"
else
    work="$(mktemp -d)"
fi
trap 'rm -rf "$work"' EXIT

# The host paths this test must not change, with a time stamp to compare to.
touch "$work/stamp"
host_changes() {
    find /var/lib/dkms /usr/src -maxdepth 1 -newer "$work/stamp" -print 2>/dev/null || true
    find "/lib/modules/$release" \( -path "/lib/modules/$release/build" -o \
        -path "/lib/modules/$release/source" \) -prune -o -newer "$work/stamp" -print 2>/dev/null || true
}

dkms_tree="$work/dkms"
source_tree="$work/src"
install_root="$work/root"
install_tree="$install_root/lib/modules"
mkdir -p "$dkms_tree" "$source_tree" "$install_tree/$release" "$work/tmp"
export TMPDIR="$work/tmp"
export mok_signing_key="$work/mok.key" mok_certificate="$work/mok.pub"
dkms_trees=(--dkmstree "$dkms_tree" --sourcetree "$source_tree" --installtree "$install_tree")

run() {
    echo "+ $*"
    "$@"
}

# The source tree, as a user would make it under /usr/src.
source_dir="$source_tree/$package_name-$package_version"
run cp -r "$stage" "$source_dir"
run make -s -C "$source_dir" KVER="$release" clean
products="$(cd "$source_dir" && find . \( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' \
    -o -name '.*.cmd' -o -name modules.order -o -name Module.symvers \) -print)"
[[ -z $products ]] || fail "make clean left build products in the DKMS source tree: $products"

run dkms add "${dkms_trees[@]}" "$package_name/$package_version"
# -j 2: the machines this runs on are small and shared.
if ! run dkms build "${dkms_trees[@]}" --no-depmod -j 2 -k "$release" "$package_name/$package_version"; then
    log="$(find "$dkms_tree" -name make.log | head -n1)"
    [[ -n $log ]] && cat "$log" >&2
    fail "dkms build failed"
fi

# DKMS compresses the module as the kernel compresses its own
# (CONFIG_MODULE_COMPRESS_*: Debian's 6.12 ships milk.ko.xz, its 6.1 an
# uncompressed milk.ko); modinfo, depmod and modprobe read either.
module_dir="$dkms_tree/$package_name/$package_version/$release/$(uname -m)/module"
built="$(find "$module_dir" -maxdepth 1 -name "$package_name.ko*" -print -quit 2>/dev/null || true)"
[[ -n $built && -f $built ]] || fail "dkms build left no $module_dir/$package_name.ko*"
module_file="$(basename "$built")"
expected_suffix=""
config="$kernel_build/.config"
grep -q '^CONFIG_MODULE_COMPRESS_XZ=y' "$config" 2>/dev/null && expected_suffix=.xz
grep -q '^CONFIG_MODULE_COMPRESS_GZIP=y' "$config" 2>/dev/null && expected_suffix=.gz
grep -q '^CONFIG_MODULE_COMPRESS_ZSTD=y' "$config" 2>/dev/null && expected_suffix=.zst
[[ $module_file == "$package_name.ko$expected_suffix" ]] ||
    fail "dkms built $module_file; the kernel's modules are $package_name.ko$expected_suffix"
echo "built: $module_file"

name="$(modinfo -F name "$built")"
[[ $name == "$package_name" ]] || fail "the built module is named '$name', not $package_name"
vermagic="$(modinfo -F vermagic "$built")"
echo "vermagic: $vermagic"
[[ ${vermagic%% *} == "$release" ]] || fail "vermagic '$vermagic' is not for $release"
# The kernel's own modules carry the exact string the kernel checks on load
# (release, SMP, preempt model, mod_unload, modversions).
kernel_module="$(find "/lib/modules/$release/kernel" -name '*.ko*' -print -quit 2>/dev/null || true)"
if [[ -n $kernel_module ]]; then
    kernel_vermagic="$(modinfo -F vermagic "$kernel_module")"
    [[ $vermagic == "$kernel_vermagic" ]] ||
        fail "vermagic '$vermagic' differs from the kernel's '$kernel_vermagic' ($kernel_module)"
    echo "vermagic matches $kernel_module"
else
    echo "no module of the $release image is installed; vermagic checked against the release only"
fi
# BTF (docs/kernel.md, "BTF"): a kernel that generates BTF for its modules
# (CONFIG_DEBUG_INFO_BTF_MODULES, and a vmlinux in its headers to base it on:
# 6.12) must have given milk.ko a .BTF section, which pahole encodes from the
# C shim's debug information only (the C++ core has none); the build fails if
# pahole meets C++ types.
if grep -q '^CONFIG_DEBUG_INFO_BTF_MODULES=y' "$config" 2>/dev/null && [[ -f $kernel_build/vmlinux ]]; then
    case $module_file in
    *.xz) xz -dc "$built" >"$work/milk-btf.ko" ;;
    *.zst) zstd -dcq "$built" >"$work/milk-btf.ko" ;;
    *.gz) gzip -dc "$built" >"$work/milk-btf.ko" ;;
    *) cp "$built" "$work/milk-btf.ko" ;;
    esac
    # Not `grep -q`: under pipefail, a grep that stops at the first match
    # can leave readelf to die of SIGPIPE, and the pipeline then fails.
    readelf -S "$work/milk-btf.ko" | grep '\.BTF ' >/dev/null ||
        fail "the kernel generates module BTF, but $module_file has no .BTF section"
    if readelf --debug-dump=info "$work/milk-btf.ko" 2>/dev/null | grep 'DW_AT_language.*C++' >/dev/null; then
        fail "$module_file carries C++ debug information (the core must be built with -g0; Kbuild)"
    fi
    echo "BTF: $module_file has a .BTF section; its debug information is the C shim's only"
fi
signer="$(modinfo -F signer "$built")"
[[ $signer == "DKMS module signing key" ]] ||
    fail "the built module is not signed with DKMS's private key (signer '$signer')"
[[ -f $mok_signing_key ]] || fail "DKMS did not make its signing key in the scratch directory"

status_installed="$package_name/$package_version, $release, $(uname -m): installed"
if [[ $(id -u) -eq 0 ]]; then
    run dkms install "${dkms_trees[@]}" --no-depmod -k "$release" "$package_name/$package_version"
    installed="$install_tree/$release/updates/dkms/$module_file"
    [[ -f $installed ]] || fail "dkms install left no $installed"
    cmp "$built" "$installed" || fail "the installed module differs from the built one"

    status="$(dkms status "${dkms_trees[@]}" "$package_name/$package_version" -k "$release")"
    echo "dkms status: $status"
    [[ $status == "$status_installed" ]] || fail "dkms status says '$status', expected '$status_installed'"

    # What DKMS's own depmod would have done, on the private tree; -e with
    # the kernel's Module.symvers reports any symbol milk.ko needs that
    # neither the kernel nor its modules export, or exports with another
    # version. The kernel's module lists, when its image is installed, come
    # along so depmod sees the tree it would see in /lib/modules; without
    # them it only warns that it cannot open them.
    for list in modules.order modules.builtin modules.builtin.modinfo; do
        [[ -f /lib/modules/$release/$list ]] && cp "/lib/modules/$release/$list" "$install_tree/$release/"
    done
    depmod_errors="$(depmod -b "$install_root" -e -E "$kernel_build/Module.symvers" "$release" 2>&1 |
        grep -v 'WARNING: could not open modules\.' || true)"
    [[ -z $depmod_errors ]] || fail "depmod: $depmod_errors"
    grep -q "^updates/dkms/$module_file:" "$install_tree/$release/modules.dep" ||
        fail "depmod did not list updates/dkms/$module_file"
    echo "depmod: updates/dkms/$module_file listed, no unknown symbols"
else
    status="$(dkms status "${dkms_trees[@]}" "$package_name/$package_version" -k "$release")"
    echo "dkms status: $status"
    [[ $status == "$package_name/$package_version, $release, $(uname -m): built" ]] ||
        fail "dkms status says '$status', expected built"
    echo "dkms-build: not root: dkms install (which checks for root) not run"
fi
steps="added, built, installed and removed"
[[ $(id -u) -eq 0 ]] || steps="added, built and removed (not installed: not root)"

run dkms remove "${dkms_trees[@]}" --no-depmod "$package_name/$package_version" --all
[[ ! -e $dkms_tree/$package_name ]] || fail "dkms remove left $dkms_tree/$package_name"
[[ ! -e $install_tree/$release/updates/dkms/$module_file ]] || fail "dkms remove left the installed module"

changes="$(host_changes)"
[[ -z $changes ]] || fail "the host's DKMS, source or module trees changed: $changes"

echo "dkms-build: PASS: $package_name/$package_version $steps for $release"
