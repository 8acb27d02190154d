#!/usr/bin/env bash
# The README's first command: installs what is missing, builds milkc and the
# examples, and runs them.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh" milkc pingpong file-server

echo
echo "== examples/pingpong: client and server threads, bytes payloads, checked"
"$root/build/bin/pingpong"
echo
echo "== examples/file-server: a file service with branching replies"
"$root/build/bin/file-server"
