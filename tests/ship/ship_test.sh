#!/bin/bash
# Function shipping (docs/blk.md): unmodified programs under
# libmilk_ship.so, their file I/O under /milk/ sent to the block service's
# file backend (blk_file, placed in a process of its own by milkd) over a
# milk channel, compared with the same programs on the direct path; what
# one program writes, the next one reads.
#   ship_test.sh BIN_DIR LIBRARY POSIX_IO
set -u
bin=$1
library=$2
posix_io=$3
work=$(mktemp -d)
socket=$work/milkd.sock
config=$work/disk.toml
milkd_pid=
cleanup() {
    [ -n "$milkd_pid" ] && kill -KILL "$milkd_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAILED: $*"; echo "--- milkd's stderr"; cat "$work/milkd.err"; exit 1; }
shipped() { LD_PRELOAD="$library" MILK_SHIP_PREFIX=/milk/ MILK_SHIP_SOCKET="$socket" MILK_SHIP_INSTANCE=disk "$@"; }

# One block service, 8 MiB of 4 KiB blocks in a file, in a process of its own.
cat >"$config" <<EOF
[disk]
component = "blk_file"
placement = "process"
settings = { path = "$work/disk.img", blocks = 2048 }
EOF
"$bin/milkd" --config "$config" --socket "$socket" 2>"$work/milkd.err" &
milkd_pid=$!
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.05; done
[ -S "$socket" ] || fail "milkd did not create its socket"
size=$((2048 * 4096))  # the config's blocks x 4 KiB
[ -e /milk/disk ] && fail "/milk/disk exists on this machine: the test would not tell shipping from the direct path"

# A program that knows nothing of milk: writes at odd offsets and lengths,
# a duplicate, fsync, then everything read back; its output (a checksum of
# what it read) must be the direct path's.
direct=$("$posix_io" "$work/direct.img" "$size") || fail "posix_io on the direct path"
through=$(shipped "$posix_io" /milk/disk "$size") || fail "posix_io through milk: $through"
echo "direct:  $direct"
echo "shipped: $through"
[ "$direct" = "$through" ] || fail "the shipped file read back differently"

# dd, unmodified, odd block sizes and offsets (skip): the device holds what
# posix_io wrote, as the direct path's file does.
shipped dd if=/milk/disk of="$work/read.img" bs=1000 skip=3 count=777 status=none || fail "dd through milk"
dd if="$work/direct.img" of="$work/read_direct.img" bs=1000 skip=3 count=777 status=none
cmp "$work/read.img" "$work/read_direct.img" || fail "dd read back differently"
# dd writing through milk (dd puts its output on fd 1 with dup2), then
# another program reading it back through milk: the data outlive the first
# program's channel, in the service's file.
head -c 1048576 /dev/urandom >"$work/random"
shipped dd if="$work/random" of=/milk/disk bs=4096 seek=5 conv=notrunc,fsync status=none || fail "dd writing through milk"
shipped dd if=/milk/disk of="$work/back" bs=4096 skip=5 count=256 status=none || fail "dd reading it back through milk"
cmp "$work/random" "$work/back" || fail "a second program read back other data than the first wrote"
# And the service's file is the device (the direct path): the same bytes.
cmp <(tail -c +$((5 * 4096 + 1)) "$work/disk.img" | head -c 1048576) "$work/random" ||
    fail "the service's file does not hold what dd wrote"

# It went through milk: the service's messages in milkd's counts.
"$bin/milkctl" --socket "$socket" status >"$work/status" || fail "milkctl status"
cat "$work/status"
messages=$(awk '$1 == "disk" { print $NF }' "$work/status")
[ "${messages:-0}" -gt 100 ] || fail "the block service saw $messages messages"
# And the library leaves other files alone: the direct image is a regular file.
[ -f "$work/direct.img" ] || fail "the direct path's file is missing"
echo "function shipping: posix_io and dd through milk agree with the direct path, and a second dd reads what the first wrote ($messages messages to the service)"
