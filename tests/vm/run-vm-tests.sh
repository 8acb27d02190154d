#!/usr/bin/env bash
# Boots the kernel milk.ko was built for in QEMU with a small initramfs
# (busybox-static, milk.ko, the test programs), loads the module, runs every
# test program, unloads the module, and reads the verdict off the serial
# console.
#
#   run-vm-tests.sh --module build/kernel-stubs/kbuild/milk.ko --work DIR \
#                   [--timeout SECONDS] [--accel auto|tcg|kvm] \
#                   [--file SOURCE=/PATH]... [--env NAME=VALUE]... \
#                   [--tool /PATH]... [--kmod 'NAME [PARAM=VALUE]...']... PROGRAM...
#
# --file puts a file the programs need into the guest at /PATH (a program
# that is not a test, such as milkd, or a config file); an executable must be
# statically linked too. --env sets NAME=VALUE in the programs' environment
# (passed on the kernel's command line: a NAME without dots, a VALUE without
# spaces).
# --tool puts one of the host's own programs into the guest at the same
# /PATH, dynamically linked as it is (/sbin/mkfs.ext4, /sbin/e2fsck), so that
# a test can use the real Linux tool rather than a busybox look-alike or
# nothing. The guest gets the program's file (a symlink's target, under the
# link's own name: mkfs.ext4 is mke2fs, which reads its name), every library
# `ldd` lists for it and the ELF interpreter, each at its host path, and
# /etc/mke2fs.conf when a tool is mke2fs; not what it may dlopen() at run
# time, which ldd cannot see. The tools' directories come before /bin in the
# PATH the programs run with, so that a program that runs "e2fsck" by execvp
# gets the real one. Busybox's sh runs its own applet for a name it knows
# (mke2fs, sha256sum) whatever PATH says: through system() or `sh -c`, name
# such a tool by its full path.
# --kmod loads a module of the guest kernel, and the modules it depends on
# in the order `modprobe --show-depends` gives for that release, before
# milk.ko (a test that formats a RAM disk needs ext4 and brd, which Debian
# builds as modules). The module's own PARAM=VALUE words, after its name in
# the same argument, go to its insmod only. The host's /etc/modprobe.d is not
# read: the guest gets the kernel's dependencies, not this host's settings.
# Each is printed as "MILK-KMOD <name> OK" when it loaded; one that did not
# fails the run.
# A program passes when it exits 0. The run fails on: a missing
# "MILK-TEST <name> PASS" line, a missing "MILK-VM-DONE", milk.ko or a
# --kmod module not loading, milk.ko not unloading, a "milk: leak:" line or
# no "milk: unloaded cleanly", any Oops / BUG: / WARNING: / Kernel panic /
# general protection fault on the console, or the timeout. The whole console
# log stays in DIR/serial.log.
#
# Acceleration: TCG (software emulation) is the default and always works.
# With --accel auto (the default) KVM is used only if a probe boot under KVM
# succeeds; the probe's answer is cached in DIR/kvm-probe.
set -euo pipefail

module=""
work=""
timeout_seconds=110
accel=auto
programs=()
files=()
environment=()
tools=()
kmods=()
while (($#)); do
    case "$1" in
    --module) module=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --timeout) timeout_seconds=$2; shift 2 ;;
    --accel) accel=$2; shift 2 ;;
    --file) files+=("$2"); shift 2 ;;
    --env) environment+=("$2"); shift 2 ;;
    --tool) tools+=("$2"); shift 2 ;;
    --kmod) kmods+=("$2"); shift 2 ;;
    -h | --help) sed -n '2,/^[^#]/{/^#/p;}' "$0"; exit 0 ;;
    -*) echo "run-vm-tests: unknown option $1" >&2; exit 2 ;;
    *) programs+=("$1"); shift ;;
    esac
done
[[ -n $module && -n $work && ${#programs[@]} -gt 0 ]] || {
    echo "usage: run-vm-tests.sh --module milk.ko --work DIR [--timeout S] [--accel auto|tcg|kvm]" \
        "[--file SOURCE=/PATH]... [--env NAME=VALUE]... [--tool /PATH]... [--kmod 'NAME [PARAM=VALUE]...']... PROGRAM..." >&2
    exit 2
}
[[ -f $module ]] || { echo "run-vm-tests: no module at $module (build the milk_ko target)" >&2; exit 2; }

fail() { echo "run-vm-tests: FAIL: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || fail "$1 not found (package: $2)"; }
need qemu-system-x86_64 qemu-system-x86
need cpio cpio
need xz xz-utils

started=$(date +%s.%N)
mkdir -p "$work"
work=$(cd "$work" && pwd)

# The kernel to boot is the one the module was built for: its vermagic
# starts with the release. Never a hard-coded release.
release=$(modinfo -F vermagic "$module" 2>/dev/null | awk '{print $1}') || true
if [[ -z $release ]]; then
    release=$(strings "$module" | sed -n 's/^vermagic=\([^ ]*\).*/\1/p' | head -n1)
fi
[[ -n $release ]] || fail "cannot read the kernel release from $module's vermagic"
vmlinuz=/boot/vmlinuz-$release
[[ -r $vmlinuz ]] || fail "$vmlinuz is missing or unreadable (package linux-image-$release)"

busybox=$(command -v busybox || true)
for candidate in /bin/busybox /usr/bin/busybox "$busybox"; do
    if [[ -n $candidate && -x $candidate ]] && ! ldd "$candidate" >/dev/null 2>&1; then
        busybox=$candidate
        break
    fi
done
# shellcheck disable=SC2015 # fail when either test fails
[[ -n $busybox ]] && ! ldd "$busybox" >/dev/null 2>&1 || fail "no statically linked busybox (package busybox-static)"

# The vmlinux inside the vmlinuz, booted through its PVH entry, skips the
# decompressor, which is slow under emulation (about half the boot). Found
# as scripts/extract-vmlinux does: the first stream of the kernel's
# compressor in the image (Debian's 6.1 uses xz, its 6.12 zstd).
kernel=$work/vmlinux-$release
if [[ ! -s $kernel || $kernel -ot $vmlinuz ]]; then
    rm -f "$kernel"
    for format in '\xfd7zXZ\x00:xz -dcq --single-stream' '\x28\xb5\x2f\xfd:zstd -dcq'; do
        offset=$(LC_ALL=C grep -obUaP "${format%%:*}" "$vmlinuz" | head -n1 | cut -d: -f1 || true)
        [[ -n $offset ]] || continue
        # shellcheck disable=SC2086 # the decompressor's command and options
        tail -c +$((offset + 1)) "$vmlinuz" | ${format#*:} >"$kernel.tmp" 2>/dev/null || true
        if [[ $(head -c4 "$kernel.tmp" | od -An -c | tr -d ' ') == 177ELF ]] &&
            readelf -n "$kernel.tmp" 2>/dev/null | grep 'Xen' >/dev/null; then
            mv "$kernel.tmp" "$kernel"
            break
        fi
    done
    rm -f "$kernel.tmp"
fi
if [[ ! -s $kernel ]]; then
    echo "run-vm-tests: no PVH vmlinux in $vmlinuz; booting the compressed image (slower)"
    kernel=$vmlinuz
fi

# The initramfs: uncompressed, since unpacking is cheaper than emulated
# decompression.
root=$work/initramfs
rm -rf "$root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,tests}
cp "$busybox" "$root/bin/busybox"
cp "$module" "$root/milk.ko"
names=()
for program in "${programs[@]}"; do
    [[ -x $program ]] || fail "test program $program is missing"
    ldd "$program" >/dev/null 2>&1 && fail "test program $program is not statically linked"
    name=$(basename "$program")
    cp "$program" "$root/tests/$name"
    names+=("$name")
done
# The programs run in the order given here, not in the order of their names:
# the caller decides what runs after what.
printf '%s\n' "${names[@]}" >"$root/tests.order"
# --tool: the host's program at its own path, with what the dynamic linker
# loads for it at the paths `ldd` found them (copied, never linked: the host's
# /lib and /lib64 are symlinks into /usr that the initramfs does not have).
# There is no ld.so.cache in the guest; the linker's default directories
# (/lib/x86_64-linux-gnu among them) are where ldd finds them on Debian.
tool_dirs=()
for tool in "${tools[@]}"; do
    [[ $tool == /* ]] || fail "--tool wants an absolute path, not $tool"
    [[ -f $tool && -x $tool ]] || fail "tool $tool is missing or not executable"
    case $tool in /init | /bin/busybox | /milk.ko | /tests/*) fail "--tool $tool would replace the harness's own file" ;; esac
    mkdir -p "$root$(dirname "$tool")"
    cp -L "$tool" "$root$tool"
    chmod 0755 "$root$tool"
    [[ " ${tool_dirs[*]} " == *" $(dirname "$tool") "* ]] || tool_dirs+=("$(dirname "$tool")")
    # ldd fails on a static program or a script: the file alone is enough.
    if listed=$(ldd "$tool" 2>/dev/null); then
        while read -r line; do
            case $line in
            *'=> not found'*) fail "tool $tool needs ${line%% *}, which ldd cannot find" ;;
            *'=> /'*) library=${line#*=> } ;;
            /*) library=$line ;; # the ELF interpreter
            *) continue ;;       # linux-vdso.so.1: the kernel's
            esac
            library=${library%% (*}
            if [[ ! -e $root$library ]]; then
                mkdir -p "$root$(dirname "$library")"
                cp -L "$library" "$root$library"
            fi
        done <<<"$listed"
    fi
    # mke2fs (mkfs.ext4 and its kin are links to it) reads its defaults for
    # each file system type from there; a --file of that path still wins.
    if [[ $(basename "$(readlink -f "$tool")") == mke2fs && -f /etc/mke2fs.conf ]]; then
        mkdir -p "$root/etc"
        cp /etc/mke2fs.conf "$root/etc/mke2fs.conf"
    fi
done
if ((${#tool_dirs[@]})); then
    (IFS=:; echo "${tool_dirs[*]}") >"$root/tools.path"
fi
# --kmod: each module and its dependencies, decompressed (busybox's insmod
# takes a plain ELF file), listed in load order in /kmods.order as "NAME FILE
# [PARAM=VALUE]...". A module that two --kmod share is loaded once. modprobe
# is in /sbin, which a user's PATH on Debian does not hold.
kmod_names=()
if ((${#kmods[@]})); then
    modprobe=$(PATH=$PATH:/usr/sbin:/sbin command -v modprobe) || fail "modprobe not found (package: kmod)"
    [[ -d /lib/modules/$release/kernel ]] || fail "no modules of $release in /lib/modules/$release (package linux-image-$release)"
    mkdir -p "$root/kmods"
    : >"$root/kmods.order"
fi
for kmod in "${kmods[@]}"; do
    read -r wanted parameters <<<"$kmod" || true
    [[ -n ${wanted:-} ]] || fail "--kmod wants a module name, not '$kmod'"
    # -C /dev/null: the kernel's own dependencies and soft dependencies
    # (modules.dep, modules.softdep), none of the host's modprobe.d options.
    plan=$("$modprobe" -C /dev/null --show-depends --set-version "$release" "$wanted" 2>&1) ||
        fail "--kmod $wanted: modprobe found no such module for $release: $plan"
    # NAME's parameters go to NAME's own insmod: the line whose module is
    # NAME (spelt with - or _), else, for an alias, the last one.
    owner=$(awk -v want="${wanted//-/_}" '$1 == "insmod" {
            name = $2; sub(/.*\//, "", name); sub(/\.ko.*/, "", name); gsub(/-/, "_", name)
            last = $2; if (name == want) own = $2 }
        END { print (own != "" ? own : last) }' <<<"$plan")
    while read -r verb file _; do
        [[ $verb == insmod ]] || continue # "builtin NAME": in the kernel already
        name=$(basename "$file")
        name=${name%%.ko*}
        [[ " ${kmod_names[*]} " == *" $name "* ]] && continue
        own=""
        [[ $file == "$owner" ]] && own=${parameters:-}
        case $file in
        *.ko.xz) xz -dc "$file" >"$root/kmods/$name.ko" ;;
        *.ko.zst) zstd -dcq "$file" >"$root/kmods/$name.ko" ;;
        *.ko.gz) gzip -dc "$file" >"$root/kmods/$name.ko" ;;
        *.ko) cp "$file" "$root/kmods/$name.ko" ;;
        *) fail "--kmod $wanted: cannot read the module file $file" ;;
        esac
        echo "$name /kmods/$name.ko${own:+ $own}" >>"$root/kmods.order"
        kmod_names+=("$name")
    done <<<"$plan"
    grep -q '^insmod ' <<<"$plan" || echo "run-vm-tests: --kmod $wanted: built into $release, nothing to load"
done
for file in "${files[@]}"; do
    source=${file%%=*}
    target=${file#*=}
    [[ $source != "$file" && $target == /* ]] || fail "--file wants SOURCE=/PATH, not $file"
    [[ -f $source ]] || fail "file $source is missing"
    if [[ -x $source ]] && ldd "$source" >/dev/null 2>&1; then fail "$source is not statically linked (--tool takes a dynamic one)"; fi
    mkdir -p "$root$(dirname "$target")"
    cp "$source" "$root$target"
done
cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "MILK-VM-BOOTED $(uname -r)"
if [ -f /kmods.order ]; then
    while read -r name file parameters; do
        if insmod "$file" $parameters; then echo "MILK-KMOD $name OK"; else echo "MILK-KMOD $name FAIL (exit $?)"; fi
    done </kmods.order
fi
tools_path=/bin
if [ -f /tools.path ]; then tools_path="$(cat /tools.path):/bin"; fi
if insmod /milk.ko; then
    echo "MILK-INSMOD OK"
    for name in $(cat /tests.order); do
        test=/tests/$name
        echo "MILK-RUN $name"
        if PATH=$tools_path "$test" >/tmp/out 2>&1; then verdict=PASS; else verdict="FAIL (exit $?)"; fi
        sed "s/^/  $name: /" /tmp/out
        echo "MILK-TEST $name $verdict"
        echo "MILK-UPTIME $name $(cut -d' ' -f1 /proc/uptime)"
    done
    if rmmod milk; then echo "MILK-RMMOD OK"; else echo "MILK-RMMOD FAIL"; fi
else
    echo "MILK-INSMOD FAIL"
fi
dmesg | grep 'milk' | sed 's/^/MILK-DMESG /'
echo "MILK-VM-DONE"
poweroff -f
EOF
chmod +x "$root/init"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) >"$work/initramfs.cpio"

# tsc=reliable: under TCG on a busy host the guest's clocksource watchdog
# can find the emulated TSC "skewed" against the HPET and switch clocksources
# at run time, which patches kernel text (sched_clock's static key) with
# int3 breakpoints; TCG's vCPUs may then run a stale int3 and the kernel
# oopses in sched_clock_cpu (seen once in a full suite run, with no milk.ko
# frame in the trace). The emulated TSC is the guest's only clock that
# matters here, and the tests do not depend on it agreeing with the HPET.
common=(-nographic -no-reboot -serial stdio -monitor none -net none -m 512 -smp 2
    -kernel "$kernel" -append "console=ttyS0 panic=-1 oops=panic tsc=reliable${environment[*]:+ ${environment[*]}}")

# KVM only where it really boots this kernel (on some hosts /dev/kvm is a
# paravirtualised KVM that cannot run a stock kernel). The probe boots the
# real initramfs with an init that only says hello.
if [[ $accel == auto ]]; then
    accel=tcg
    if [[ -r /dev/kvm && -w /dev/kvm ]]; then
        if [[ ! -f $work/kvm-probe ]]; then
            probe=$work/probe
            rm -rf "$probe" && mkdir -p "$probe/bin"
            cp "$busybox" "$probe/bin/busybox"
            printf '#!/bin/busybox sh\n/bin/busybox echo MILK-KVM-PROBE-OK\n/bin/busybox poweroff -f\n' >"$probe/init"
            chmod +x "$probe/init"
            (cd "$probe" && find . -print0 | cpio --null -o -H newc --quiet) >"$work/probe.cpio"
            if timeout -k 2 10 qemu-system-x86_64 -accel kvm -cpu host "${common[@]}" -initrd "$work/probe.cpio" \
                </dev/null 2>&1 | grep MILK-KVM-PROBE-OK >/dev/null; then
                echo kvm >"$work/kvm-probe"
            else
                echo tcg >"$work/kvm-probe"
            fi
        fi
        accel=$(cat "$work/kvm-probe")
    fi
fi
# shellcheck disable=SC2054 # the commas in tcg's options are QEMU's
case $accel in
kvm) cpu=(-accel kvm -cpu host) ;;
# thread=multi: one host thread per vCPU (MTTCG), so that two guest CPUs
# really run at once; a polled round trip needs that.
tcg) cpu=(-accel tcg,thread=multi -cpu max) ;;
*) fail "unknown --accel $accel" ;;
esac

log=$work/serial.log
echo "run-vm-tests: booting $release ($(basename "$kernel"), $accel) with ${#names[@]} test programs; log: $log"
boot_started=$(date +%s.%N)
# A kernel that dies before our init prints MILK-VM-BOOTED has not run one
# line of milk: under MTTCG a vCPU can still execute an int3 that the kernel's
# text patching (static keys flipped during boot) has already replaced, and
# the kernel oopses in whatever function held the key (seen in CI in
# enqueue_timer during inet_init, 0.8 s into boot). Such a boot is the
# emulator's failure, so it is retried (twice at most) with its log kept
# beside the new one; anything that goes wrong after init started is
# reported as a failure, never retried.
for attempt in 1 2 3; do
    set +e
    timeout -k 5 "$timeout_seconds" qemu-system-x86_64 "${cpu[@]}" "${common[@]}" -initrd "$work/initramfs.cpio" \
        </dev/null >"$log" 2>&1
    qemu_status=$?
    set -e
    # The console uses CRLF line ends.
    sed -i 's/\r$//' "$log"
    if grep -q '^MILK-VM-BOOTED' "$log" || ! grep -qE 'Oops|Kernel panic' "$log" || ((attempt == 3)); then
        break
    fi
    mv "$log" "$work/serial.boot-crash-$attempt.log"
    echo "run-vm-tests: the kernel crashed before init ran ($(grep -m1 -oE '(Oops|RIP): .*' "$work/serial.boot-crash-$attempt.log")); booting again, log kept as serial.boot-crash-$attempt.log"
done
boot_ended=$(date +%s.%N)

grep -E '^(MILK-|  [a-z_]+: )' "$log" | grep -v '^MILK-RUN ' || true

problems=()
[[ $qemu_status -eq 124 || $qemu_status -eq 137 ]] && problems+=("timed out after ${timeout_seconds}s")
for name in "${kmod_names[@]}"; do
    grep -qx "MILK-KMOD $name OK" "$log" || problems+=("kernel module $name did not load")
done
grep -q '^MILK-INSMOD OK' "$log" || problems+=("milk.ko did not load")
for name in "${names[@]}"; do
    grep -qx "MILK-TEST $name PASS" "$log" || problems+=("no PASS line for $name")
done
grep -q '^MILK-RMMOD OK' "$log" || problems+=("milk.ko did not unload")
grep -q 'milk: leak:' "$log" && problems+=("allocations leaked: $(grep -o 'milk: leak:.*' "$log" | head -n1)")
grep -q 'milk: unloaded cleanly' "$log" || problems+=("no 'milk: unloaded cleanly' line")
for pattern in 'Oops' 'BUG:' 'WARNING:' 'Kernel panic' 'general protection fault'; do
    if grep -q -- "$pattern" "$log"; then
        problems+=("console shows '$pattern': $(grep -m1 -- "$pattern" "$log")")
    fi
done
grep -q '^MILK-VM-DONE' "$log" || problems+=("no MILK-VM-DONE line")

ended=$(date +%s.%N)
awk -v b0="$boot_started" -v b1="$boot_ended" -v t0="$started" -v t1="$ended" \
    'BEGIN { printf "run-vm-tests: VM %.1fs (boot to power-off), total %.1fs\n", b1 - b0, t1 - t0 }'
if ((${#problems[@]})); then
    echo "run-vm-tests: last console lines:" >&2
    tail -n 40 "$log" >&2
    # A failing program's own last lines and the verdicts come last: CI keeps
    # only the head and the tail of a long run's output, and the cause of a
    # failure must be in what it keeps.
    for name in "${names[@]}"; do
        if ! grep -qx "MILK-TEST $name PASS" "$log"; then
            echo "run-vm-tests: last lines of $name:" >&2
            grep -E "^  $name: " "$log" | tail -n 15 >&2 || true
            grep -E "^MILK-TEST $name " "$log" >&2 || true
        fi
    done
    for problem in "${problems[@]}"; do echo "run-vm-tests: FAIL: $problem" >&2; done
    exit 1
fi
echo "run-vm-tests: PASS (${#names[@]} tests)"
