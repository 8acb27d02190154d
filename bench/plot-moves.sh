#!/bin/bash
# The distribution of move pauses per pair of placements, as a plot:
#   bench/plot-moves.sh PAUSES OUT.png [TITLE]
# PAUSES is what `milk-move-bench --out FILE` writes ("pair microseconds"
# per move), or the VM's serial log of the milk_vm_move_bench target, whose
# lines carry the same after "PAUSE ". One line per pair: the fraction of
# its moves that paused the client at most x microseconds (log scale).
set -euo pipefail
pauses=$1
out=$2
title=${3:-"milk-move-bench: the pause a move causes, as the client sees it"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Both inputs to "pair microseconds".
sed -n 's/.*PAUSE \([a-z>-]*\) \([0-9.e+]*\).*/\1 \2/p; t; /^[a-z]*->[a-z]* [0-9.e+]*$/p' "$pauses" >"$work/all"
[ -s "$work/all" ] || { echo "plot-moves: no pauses in $pauses" >&2; exit 1; }
plots=()
for pair in $(cut -d' ' -f1 "$work/all" | sort -u); do
    awk -v pair="$pair" '$1 == pair { print $2 }' "$work/all" | sort -g >"$work/$pair.dat"
    count=$(wc -l <"$work/$pair.dat")
    plots+=("'$work/$pair.dat' using 1:(1.0/$count) smooth cumulative with steps title '${pair/->/ → } ($count)'")
done
joined=$(IFS=,; echo "${plots[*]}")
gnuplot <<GNUPLOT
set terminal pngcairo size 900,560 font ",10"
set output '$out'
set title "$title"
set logscale x
set xlabel "pause (µs, log scale)"
set ylabel "fraction of moves"
set yrange [0:1.02]
set key bottom right
set grid
plot $joined
GNUPLOT
echo "plot-moves: wrote $out"
