#!/bin/busybox sh
# The host's kernel placement in the VM (tests/vm/run-vm-tests.sh runs this
# with milk.ko loaded and puts the static programs and the config under
# /host): the same client program as in user space against echo, files and
# tally placed in the kernel by --place alone, first through a host of its
# own, then through milkd (the kernel channel's fd handed over and adopted),
# and `milkctl status` showing them in the kernel; then live moves into and
# out of the kernel, in a host of the test's own and through milkd.
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

# A client holding a channel to the kernel's echo: milkctl lists the
# channel with its protocol state and messages, from milk.ko's own
# directory of channels (MILK_IOC_LIST_CHANNELS). The Pong is sent within
# the kick that took the Ping, so the state is Idle, or Waiting if milkctl
# looks in the middle of a kick; the messages both ways, at least the first
# round trip's two.
/host/milk-host-client --config /host/three.toml $place --socket /tmp/milkd.sock --milkd-pid "$milkd" \
    --hold echo >/tmp/held 2>&1 &
held=$!
for i in $(seq 200); do grep -q holding /tmp/held && break; sleep 0.05; done
grep -q holding /tmp/held || fail "the holding client did not start: $(cat /tmp/held)"
/host/milkctl --socket /tmp/milkd.sock status --channels >/tmp/channels || fail "milkctl status --channels"
cat /tmp/channels
grep -Eq "^echo +echo +kernel +kernel +running +1 +[1-9][0-9]*$" /tmp/channels || fail "echo's open kernel channel"
grep -A1 "^echo " /tmp/channels | grep -Eq "^  channel 1 +state (Idle|Waiting) +messages [1-9][0-9]*$" ||
    fail "echo's kernel channel line"
grep -Eq "^files +files +kernel +kernel +running +0 +" /tmp/channels || fail "files has no open channel"
kill -TERM "$held"
wait "$held"

kill -TERM "$milkd"
wait "$milkd" || fail "milkd did not stop cleanly"

# Live moves with the kernel among the placements (docs/relocation.md):
# the relocation tests move echo and files round every ordered pair of
# inproc, process and kernel, and echo 120 times under three streaming
# clients, each answer and payload checked.
MILK_RELOCATION_MOVES=120 /host/milk-relocation-tests \
    -tc="*follows echo round the placements*,*open files and contents move*,*moves under load*" >/tmp/relocation 2>&1 ||
    { cat /tmp/relocation; fail "the relocation tests"; }
cat /tmp/relocation
grep -Eq "test cases: +3 \| +3 passed" /tmp/relocation || fail "the relocation tests did not all run"

# The same through milkd, its client in another process: echo moves from
# milkd's process into the kernel, to a process of its own, back into the
# kernel and home, five times, while the client pings; every answer right.
/host/milkd --config /host/three.toml --socket /tmp/milkd.sock 2>/tmp/milkd.err &
milkd=$!
for i in $(seq 100); do [ -S /tmp/milkd.sock ] && break; sleep 0.1; done
[ -S /tmp/milkd.sock ] || fail "milkd did not create its socket"
rm -f /tmp/stop
/host/milk-host-client --config /host/three.toml --socket /tmp/milkd.sock --milkd-pid "$milkd" \
    --hold echo --stop-file /tmp/stop >/tmp/held 2>&1 &
held=$!
for i in $(seq 200); do grep -q holding /tmp/held && break; sleep 0.05; done
grep -q holding /tmp/held || fail "the holding client did not start: $(cat /tmp/held)"
# A trace while echo visits the kernel: milk.ko's records of its kernel
# channel come back with the host's (a track "kernel channel N", each Ping
# from Idle to Waiting, each Pong back), beside the moves.
/host/milkctl --socket /tmp/milkd.sock trace --out /tmp/trace.json --seconds 3 >/tmp/traced 2>&1 &
tracer=$!
sleep 0.5
/host/milkctl --socket /tmp/milkd.sock move echo kernel >/dev/null || fail "the move to kernel during the trace"
sleep 0.5
/host/milkctl --socket /tmp/milkd.sock move echo inproc >/dev/null || fail "the move back during the trace"
wait "$tracer" || fail "milkctl trace: $(cat /tmp/traced)"
cat /tmp/traced
grep -q '"name":"kernel channel ' /tmp/trace.json || fail "the trace has no kernel channel track"
grep -Eq '"name":"Ping","cat":"message".*"tid":1[0-9]{9},.*"from":"client","state_before":"Idle","state_after":"Waiting"' \
    /tmp/trace.json || fail "the trace has no Ping on a kernel channel"
grep -Eq '"name":"Pong","cat":"message".*"tid":1[0-9]{9},.*"from":"component","state_before":"Waiting","state_after":"Idle"' \
    /tmp/trace.json || fail "the trace has no Pong on a kernel channel"
grep -q '"name":"move inproc -> kernel"' /tmp/trace.json || fail "the trace has no move into the kernel"
grep -q '"name":"move kernel -> inproc"' /tmp/trace.json || fail "the trace has no move out of the kernel"

for round in 1 2 3 4 5; do
    for target in kernel process kernel inproc; do
        /host/milkctl --socket /tmp/milkd.sock move echo "$target" >/tmp/move 2>&1 || fail "move to $target: $(cat /tmp/move)"
        grep -qx "moved echo to $target" /tmp/move || fail "milkctl move's line: $(cat /tmp/move)"
        /host/milkctl --socket /tmp/milkd.sock status >/tmp/status || fail "milkctl status"
        grep -Eq "^echo +echo +$target " /tmp/status || fail "echo not at $target: $(cat /tmp/status)"
        sleep 0.05
    done
done
echo "moved echo 20 times through the kernel"
touch /tmp/stop
wait "$held" || fail "the client failed across the moves: $(cat /tmp/held)"
cat /tmp/held
grep -Eq "^held [0-9]+ round trips, every answer right$" /tmp/held || fail "the client's last line"
# A component that serves whole sessions cannot be cut: refused, and stays.
/host/milkctl --socket /tmp/milkd.sock move tally kernel >/tmp/refused 2>&1 && fail "moving tally was not refused"
grep -q "only step components can be moved" /tmp/refused || fail "the refusal's reason: $(cat /tmp/refused)"
kill -TERM "$milkd"
wait "$milkd" || fail "milkd did not stop cleanly"
echo "host in the VM: ok"
