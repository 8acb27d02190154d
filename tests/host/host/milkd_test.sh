#!/bin/bash
# milkd with clients in other processes: the host tests' client through the
# socket, `milkctl status`, a killed `process` instance (its client gets a
# clean error, milkctl shows it dead with its signal), and SIGTERM (milkd
# stops, its runners are reaped).
#   milkd_test.sh BIN_DIR CONFIG_DIR
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

# echo and tally in processes of their own, files in milkd's process.
"$bin/milkd" --config "$configs/three.toml" --place echo=process --place tally=process --socket "$socket" \
    2>"$work/milkd.err" &
milkd_pid=$!
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.05; done
[ -S "$socket" ] || fail "milkd did not create its socket"

"$bin/milk-host-client" --config "$configs/three.toml" --place echo=process --place tally=process \
    --socket "$socket" --milkd-pid "$milkd_pid" || fail "the client through milkd"

"$bin/milkctl" --socket "$socket" status >"$work/status" || fail "milkctl status"
cat "$work/status"
grep -Eq '^INSTANCE +COMPONENT +PLACEMENT +PID +STATE +CHANNELS +MESSAGES$' "$work/status" || fail "milkctl's header"
grep -Eq "^echo +echo +process +[0-9]+ +running +0 +20001$" "$work/status" || fail "echo's line"
grep -Eq "^files +files +inproc +$milkd_pid +running +0 +23$" "$work/status" || fail "files' line"
grep -Eq "^tally +tally +process +[0-9]+ +running +0 +[0-9]+$" "$work/status" || fail "tally's line"
echo_pid=$(awk '$1 == "echo" { print $4 }' "$work/status")
[ "$echo_pid" != "$milkd_pid" ] || fail "echo runs in milkd's process"

# A client in the middle of a session when the echo process is killed: it
# must get an error, not hang (timeout says it hung).
"$bin/milk-host-client" --config "$configs/three.toml" --place echo=process --place tally=process \
    --socket "$socket" --milkd-pid "$milkd_pid" --hold echo >"$work/held" 2>&1 &
held=$!
for _ in $(seq 100); do grep -q "holding" "$work/held" && break; sleep 0.05; done
grep -q "holding" "$work/held" || fail "the holding client did not start: $(cat "$work/held")"
# While the channel is open, milkctl shows it, with the messages on it so far
# and its protocol state. The holding client pings every 5 ms, so the channel
# is in Idle (the client's turn) between round trips and in Waiting (the
# server owes the Pong) during one; milkctl may catch either, never another.
"$bin/milkctl" --socket "$socket" status --channels >"$work/channels" || fail "milkctl status --channels"
cat "$work/channels"
grep -Eq "^echo +echo +process +$echo_pid +running +1 +[0-9]+$" "$work/channels" || fail "echo's open channel"
grep -A1 "^echo " "$work/channels" | grep -Eq "^  channel 1 +state (Idle|Waiting) +messages [0-9]+$" || fail "echo's channel line"
kill -KILL "$echo_pid"
timeout 10 tail --pid="$held" -f /dev/null || fail "the client of a killed instance hangs"
wait "$held"
held_status=$?
cat "$work/held"
[ "$held_status" = 0 ] || fail "the holding client did not see a clean PeerClosed"

for _ in $(seq 100); do
    "$bin/milkctl" --socket "$socket" status >"$work/status" || fail "milkctl status after the kill"
    grep -q "^echo .*dead" "$work/status" && break
    sleep 0.05
done
cat "$work/status"
grep -Eq "^echo +echo +process +$echo_pid +dead \(signal 9 SIGKILL\) +0 +[0-9]+$" "$work/status" || fail "echo is not shown dead by SIGKILL"
# A new client of the dead instance is refused at once.
"$bin/milk-host-client" --config "$configs/three.toml" --socket "$socket" --milkd-pid "$milkd_pid" --hold echo \
    >"$work/refused" 2>&1 && fail "a client of a dead instance was not refused"
grep -q "peer closed: the instance's process is dead" "$work/refused" || fail "refusal: $(cat "$work/refused")"

tally_pid=$(awk '$1 == "tally" { print $4 }' "$work/status")
kill -TERM "$milkd_pid"
timeout 10 tail --pid="$milkd_pid" -f /dev/null || fail "milkd does not stop on SIGTERM"
wait "$milkd_pid"
status=$?
milkd_pid=
[ "$status" = 0 ] || fail "milkd exited with $status after SIGTERM"
kill -0 "$tally_pid" 2>/dev/null && fail "milkd left its runner $tally_pid behind"
[ -e "$socket" ] && fail "milkd left its socket behind"
echo "milkd test: ok"
