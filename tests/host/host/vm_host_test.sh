#!/bin/busybox sh
# The host's kernel placement in the VM (tests/vm/run-vm-tests.sh runs this
# with milk.ko loaded and puts the static programs and the config under
# /host): the same client program as in user space against echo, files and
# tally placed in the kernel by --place alone, first through a host of its
# own, then through milkd (the kernel channel's fd handed over and adopted),
# and `milkctl status` showing them in the kernel.
set -u
place="--place echo=kernel --place files=kernel --place tally=kernel"
fail() { echo "FAILED: $*"; [ -f /tmp/milkd.err ] && cat /tmp/milkd.err; exit 1; }

/host/milk-host-client --config /host/three.toml $place || fail "the client with a host of its own"

/host/milkd --config /host/three.toml $place --socket /tmp/milkd.sock 2>/tmp/milkd.err &
milkd=$!
for i in $(seq 100); do [ -S /tmp/milkd.sock ] && break; sleep 0.1; done
[ -S /tmp/milkd.sock ] || fail "milkd did not create its socket"
/host/milk-host-client --config /host/three.toml $place --socket /tmp/milkd.sock --milkd-pid "$milkd" ||
    fail "the client through milkd"
/host/milkctl --socket /tmp/milkd.sock status >/tmp/status || fail "milkctl status"
cat /tmp/status
for name in echo files tally; do
    grep -Eq "^$name +$name +kernel +kernel +running +0 +[1-9][0-9]*$" /tmp/status || fail "$name's line"
done
kill -TERM "$milkd"
wait "$milkd" || fail "milkd did not stop cleanly"
echo "host in the VM: ok"
