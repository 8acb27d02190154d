#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and runs the
# placement demo: the same client against the echo component, placed in this
# process, in a process of its own, and in the kernel (milk.ko where it is
# loaded, else in a VM that loads it: scripts/demo-kernel-vm.sh), changed
# only by --place. Then the relocation demo (echo moved while a client
# streams through it) and the examples.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh" milkc placement-demo relocation-demo milk-runner pingpong file-server

demo="$root/build/bin/placement-demo"
config="$root/examples/placement/echo.toml"
echo
echo "== examples/placement: one client, the echo placed by a flag"
"$demo" --config "$config" --place echo=inproc
"$demo" --config "$config" --place echo=process
if [[ -e /dev/milk ]]; then
    "$demo" --config "$config" --place echo=kernel
else
    # No milk.ko here: the same binary, in a VM that loads it.
    bash "$root/scripts/demo-kernel-vm.sh"
fi
echo
echo "== examples/relocation: echo moved to a process of its own and back while a client streams"
"$root/build/bin/relocation-demo"
echo
echo "== examples/pingpong: client and server threads, bytes payloads, checked"
"$root/build/bin/pingpong"
echo
echo "== examples/file-server: a file service with branching replies"
"$root/build/bin/file-server"
