#!/bin/bash
# `milkctl move` with milkd: a client in another process pings echo while
# milkctl moves it between milkd's process and a process of its own, back
# and forth; the client must see every answer, right, and milkctl status
# must show each placement; `milkctl trace` records two seconds of it. A
# component that serves whole sessions (tally)
# is refused with a reason, and stays.
#   milkd_move_test.sh BIN_DIR CONFIG_DIR
set -u
bin=$1
configs=$2
work=$(mktemp -d)
socket=$work/milkd.sock
milkd_pid=
cleanup() {
    [ -n "$milkd_pid" ] && kill -KILL "$milkd_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAILED: $*"; echo "--- milkd's stderr"; cat "$work/milkd.err"; exit 1; }
# milkctl status into $work/status until a line matches $1 (5 s at most).
wait_for_status() {
    for _ in $(seq 100); do
        "$bin/milkctl" --socket "$socket" status >"$work/status" || return 1
        grep -Eq "$1" "$work/status" && return 0
        sleep 0.05
    done
    return 1
}

"$bin/milkd" --config "$configs/three.toml" --socket "$socket" 2>"$work/milkd.err" &
milkd_pid=$!
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.05; done
[ -S "$socket" ] || fail "milkd did not create its socket"

# Round trips 5 ms apart until the moves are done (the stop file).
"$bin/milk-host-client" --config "$configs/three.toml" --socket "$socket" --milkd-pid "$milkd_pid" \
    --hold echo --stop-file "$work/stop" >"$work/held" 2>&1 &
held=$!
for _ in $(seq 100); do grep -q "holding" "$work/held" && break; sleep 0.05; done
grep -q "holding" "$work/held" || fail "the client did not start: $(cat "$work/held")"

for round in 1 2 3 4 5; do
    "$bin/milkctl" --socket "$socket" move echo process >"$work/move" || fail "move to process: $(cat "$work/move")"
    grep -qx "moved echo to process" "$work/move" || fail "milkctl move's line: $(cat "$work/move")"
    # The client takes its new channel at its next ping (5 ms at most):
    # until then the channel is on its way, not open at the new placement.
    wait_for_status "^echo +echo +process +[0-9]+ +running +1 " || fail "echo not at process with its channel: $(cat "$work/status")"
    echo_pid=$(awk '$1 == "echo" { print $4 }' "$work/status")
    [ "$echo_pid" != "$milkd_pid" ] || fail "echo at process runs in milkd's process"
    sleep 0.2
    "$bin/milkctl" --socket "$socket" move echo inproc >"$work/move" || fail "move to inproc: $(cat "$work/move")"
    wait_for_status "^echo +echo +inproc +$milkd_pid +running +1 " || fail "echo not back in milkd: $(cat "$work/status")"
    sleep 0.2
done
echo "moved echo 10 times"

# A trace of two seconds while echo moves: it parses, and holds the Pings
# with their states and the moves (check_trace.cmake). The moves go on back
# to back from before the trace starts until after it ends, so that its
# window holds some however slow the machine (under ThreadSanitizer one
# round above takes seconds, mostly milkctl starting).
(
    while [ ! -e "$work/traced.done" ]; do
        "$bin/milkctl" --socket "$socket" move echo process >/dev/null || { echo "a move to process failed"; exit 1; }
        "$bin/milkctl" --socket "$socket" move echo inproc >/dev/null || { echo "a move to inproc failed"; exit 1; }
    done
) >"$work/mover" 2>&1 &
mover=$!
"$bin/milkctl" --socket "$socket" trace --out "$work/trace.json" --seconds 2 >"$work/traced" 2>&1
traced=$?
touch "$work/traced.done"
wait "$mover" || fail "moves during the trace: $(cat "$work/mover")"
touch "$work/stop"
[ "$traced" = 0 ] || fail "milkctl trace: $(cat "$work/traced")"
cat "$work/traced"
grep -Eq "^wrote [0-9]+ events to $work/trace.json$" "$work/traced" || fail "milkctl trace's line"
cmake -DTRACE="$work/trace.json" -P "$configs/check_trace.cmake" || fail "the trace"

timeout 60 tail --pid="$held" -f /dev/null || fail "the client hangs"
wait "$held"
held_status=$?
cat "$work/held"
[ "$held_status" = 0 ] || fail "the client failed across the moves"
grep -Eq "^held [0-9]+ round trips, every answer right$" "$work/held" || fail "the client's last line"

# tally serves whole sessions: refused, with the reason, and it stays.
"$bin/milkctl" --socket "$socket" move tally process >"$work/refused" 2>&1 && fail "moving tally was not refused"
cat "$work/refused"
grep -q "only step components can be moved" "$work/refused" || fail "the refusal's reason"
"$bin/milkctl" --socket "$socket" status >"$work/status" || fail "milkctl status"
grep -Eq "^tally +tally +inproc +$milkd_pid +running" "$work/status" || fail "tally moved anyway"
"$bin/milkctl" --socket "$socket" move echo elsewhere >"$work/bad" 2>&1
[ $? = 2 ] || fail "a placement that is not one was not a usage error"

kill -TERM "$milkd_pid"
timeout 10 tail --pid="$milkd_pid" -f /dev/null || fail "milkd does not stop on SIGTERM"
wait "$milkd_pid"
milkd_pid=
echo "milkd move: ok"
