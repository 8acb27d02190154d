#!/bin/bash
# Function shipping (docs/blk.md): unmodified programs under
# libmilk_ship.so, their file I/O under /milk/ sent to the block service
# blk_ram (placed in a process of its own by milkd) over a milk channel,
# compared with the same programs on the direct path.
#   ship_test.sh BIN_DIR LIBRARY POSIX_IO CONFIG
set -u
bin=$1
library=$2
posix_io=$3
config=$4
work=$(mktemp -d)
socket=$work/milkd.sock
milkd_pid=
cleanup() {
    [ -n "$milkd_pid" ] && kill -KILL "$milkd_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAILED: $*"; echo "--- milkd's stderr"; cat "$work/milkd.err"; exit 1; }
shipped() { LD_PRELOAD="$library" MILK_SHIP_PREFIX=/milk/ MILK_SHIP_SOCKET="$socket" MILK_SHIP_INSTANCE=disk "$@"; }

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

# dd, unmodified: a fresh session's device reads as zeros, as a file of
# zeros does; odd block sizes and offsets (skip) through the channel.
head -c "$size" /dev/zero >"$work/zeros"
shipped dd if=/milk/disk of="$work/read.img" bs=1000 skip=3 count=777 status=none || fail "dd through milk"
dd if="$work/zeros" of="$work/read_direct.img" bs=1000 skip=3 count=777 status=none
cmp "$work/read.img" "$work/read_direct.img" || fail "dd read back differently"
# dd writing through milk: its output is the device (dd puts it on fd 1 with dup2).
head -c 1048576 /dev/urandom >"$work/random"
shipped dd if="$work/random" of=/milk/disk bs=4096 conv=notrunc,fsync status=none || fail "dd writing through milk"

# It went through milk: the service's messages in milkd's counts.
"$bin/milkctl" --socket "$socket" status >"$work/status" || fail "milkctl status"
cat "$work/status"
messages=$(awk '$1 == "disk" { print $NF }' "$work/status")
[ "${messages:-0}" -gt 100 ] || fail "the block service saw $messages messages"
# And the library leaves other files alone: the direct image is a regular file.
[ -f "$work/direct.img" ] || fail "the direct path's file is missing"
echo "function shipping: posix_io and dd through milk agree with the direct path ($messages messages to the service)"
