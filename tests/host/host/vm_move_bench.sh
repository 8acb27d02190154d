#!/bin/busybox sh
# milk-move-bench in the VM (the milk_vm_move_bench target): echo moves round
# every ordered pair of inproc, process and kernel while a client streams
# Pings through it; the pause of each pair, against a plain round trip at
# the move's target. TCG emulates every instruction: compare only within
# this run.
/host/milk-move-bench --placements inproc,process,kernel,inproc,kernel,process --moves 300 --settle-ms 5 --restarts 0
