#!/usr/bin/env bash
# Draws the kernel <-> user messaging benchmark's rows (the MILK-BENCH-ROW
# lines kernel_bench prints in the VM) as a bar chart: p50 and mean ns per
# message, one bar pair per mechanism and batch, on a log scale.
#
#   plot-messaging.sh SERIAL_LOG OUT_DIR
#
# Writes OUT_DIR/messaging.dat, messaging.gp and, where gnuplot exists,
# messaging.png. docs/kernel-user-messaging.md shows the picture.
set -euo pipefail
log=$1
out=$2
mkdir -p "$out"
# "  kernel_bench: MILK-BENCH-ROW name|batch|p50|p99|mean" (as the harness
# prefixes the program's output) or the bare line, as in the serial log.
grep -o 'MILK-BENCH-ROW .*' "$log" | sed 's/^MILK-BENCH-ROW //' |
    awk -F'|' '{ gsub(/"/, "", $1); printf "\"%s (%s)\" %s %s %s\n", $1, $2, $3, $5, $4 }' >"$out/messaging.dat"
if [[ ! -s $out/messaging.dat ]]; then
    echo "plot-messaging: no MILK-BENCH-ROW lines in $log" >&2
    exit 1
fi
cat >"$out/messaging.gp" <<'GP'
set terminal pngcairo size 1400,700 font ",10" noenhanced
set output "messaging.png"
set title "kernel <-> user messaging: ns per 64-byte message (one boot; log scale)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set ylabel "ns per message"
set xtics rotate by -40 scale 0
set key top left
set grid ytics
plot "messaging.dat" using 2:xtic(1) title "p50", "" using 3 title "mean"
GP
if command -v gnuplot >/dev/null; then
    (cd "$out" && gnuplot messaging.gp)
    echo "plot-messaging: wrote $out/messaging.png"
else
    echo "plot-messaging: no gnuplot; data and script in $out" >&2
fi
