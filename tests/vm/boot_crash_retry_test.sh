#!/bin/bash
# The VM harness's boot-crash retry, checked with a stand-in for QEMU.
#
# run-vm-tests.sh boots again when the kernel dies before our init ran (an
# emulator race, see the harness), and only then. This test puts a
# qemu-system-x86_64 first on PATH that fakes one kind of crash on its first
# boot and runs the real QEMU afterwards, and checks both halves:
#   1. a crash before MILK-VM-BOOTED is retried and the suite passes;
#   2. a crash after MILK-VM-BOOTED (milk's code may have run) fails the run
#      at once, without a second boot.
#
# usage: boot_crash_retry_test.sh HARNESS MILK_KO WORK PROGRAM
set -euo pipefail
harness=$1 module=$2 work=$3 program=$4
real_qemu=$(command -v qemu-system-x86_64)
rm -rf "$work" && mkdir -p "$work/bin"

cat >"$work/bin/qemu-system-x86_64" <<SHIM
#!/bin/bash
# The harness's KVM probe boots probe.cpio: leave it alone.
if [[ " \$* " != *probe.cpio* ]]; then
    count=\$(cat "$work/boots" 2>/dev/null || echo 0)
    echo \$((count + 1)) >"$work/boots"
    if ((count == 0)); then
        case \$(cat "$work/mode") in
        early) printf '[    0.83] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI\r\n[    0.84] Kernel panic - not syncing: Fatal exception in interrupt\r\n' ;;
        late) printf 'MILK-VM-BOOTED fake\r\n[    1.20] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI\r\n[    1.21] Kernel panic - not syncing: Fatal exception\r\n' ;;
        esac
        exit 0
    fi
fi
exec "$real_qemu" "\$@"
SHIM
chmod +x "$work/bin/qemu-system-x86_64"

run() {
    echo "$1" >"$work/mode"
    rm -f "$work/boots"
    PATH="$work/bin:$PATH" "$harness" --module "$module" --work "$work/vm-$1" --timeout 200 "$program" \
        >"$work/$1.out" 2>&1
}

if ! run early; then
    cat "$work/early.out"
    echo "FAIL: a crash before init was not survived by booting again" >&2
    exit 1
fi
grep -q 'crashed before init ran' "$work/early.out" || { cat "$work/early.out"; echo "FAIL: no retry message" >&2; exit 1; }
[[ -f $work/vm-early/serial.boot-crash-1.log ]] || { echo "FAIL: the crashed boot's log was not kept" >&2; exit 1; }
[[ $(cat "$work/boots") == 2 ]] || { echo "FAIL: expected 2 boots, saw $(cat "$work/boots")" >&2; exit 1; }

if run late; then
    cat "$work/late.out"
    echo "FAIL: a crash after init started passed" >&2
    exit 1
fi
grep -q "console shows 'Oops'" "$work/late.out" || { cat "$work/late.out"; echo "FAIL: the Oops was not reported" >&2; exit 1; }
[[ $(cat "$work/boots") == 1 ]] || { echo "FAIL: a crash after init was retried" >&2; exit 1; }
echo "PASS: boot crashes before init are retried, later ones fail the run"
