#!/usr/bin/env bash
# The kernel leg of the placement demo on a machine where milk.ko is not
# loaded (no /dev/milk: not root, or a container): boots Debian's kernel in
# QEMU (tests/vm/run-vm-tests.sh), loads the milk.ko built for it, and runs
# the very same placement-demo binary there with `--place echo=kernel`, then
# prints what it printed. Called by demo.sh; expects the packages installed
# and build/ configured (scripts/build.sh).
#
# The guest is emulated (TCG unless KVM works here): its round-trip times
# are the emulator's, comparable only with each other, not with the host's.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build"

bash "$root/scripts/build.sh" placement-demo milk_ko

module="$build/kernel-stubs/kbuild/milk.ko"
[[ -f $module ]] || { echo "demo-kernel-vm: no $module (the kernel headers are missing?)" >&2; exit 1; }
work="$build/demo-vm"
mkdir -p "$work"
# The program the guest runs: the demo, echo placed in the kernel by the flag.
guest="$work/placement-kernel.sh"
cat >"$guest" <<'GUEST'
#!/bin/busybox sh
exec /host/placement-demo --config /host/echo.toml --place echo=kernel
GUEST
chmod +x "$guest"

if ! bash "$root/tests/vm/run-vm-tests.sh" --module "$module" --work "$work" --timeout 300 \
    --file "$build/bin/placement-demo=/host/placement-demo" \
    --file "$root/examples/placement/echo.toml=/host/echo.toml" \
    "$guest" >"$work/run.log" 2>&1; then
    cat "$work/run.log" >&2
    exit 1
fi
# The guest's console prefixes each line of the program's output with its
# name (run-vm-tests.sh); the demo's own lines, as it printed them.
echo "(in a VM: $(grep -m1 -o 'booting [^ ]* ([^)]*)' "$work/run.log" | sed 's/booting //'))"
sed -n 's/^  placement-kernel\.sh: //p' "$work/serial.log" | tr -d '\r'
