#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A/B of two spawnbench builds (bench/spawnbench.mk), run in alternating
# rounds so both see the same neighbours' load on this shared host:
#
#   bench/spawnbench-ab.sh ROOTFS A_BIN B_BIN      (ROUNDS=20 N=200 EXTRA="--netns-pool")
#
# e.g. A = the previous commit's build, B = the current one:
#   git archive OLD | tar -x -C /tmp/old && make -C /tmp/old -f Makefile -f bench/spawnbench.mk \
#       BUILD=build-sb build-sb/spawnbench
#   make -f Makefile -f bench/spawnbench.mk BUILD=bench/out/build-sb bench/out/build-sb/spawnbench
# Prints, per build, the spawn-to-exit and spawn-returned medians over all
# rounds and the CPU per spawn (user+sys of spawnbench and every sandbox it
# reaped, from /usr/bin/time, warm-up spawns included), and the median over
# rounds of each round's rate. EXTRA: more spawnbench options, for both.
set -euo pipefail
rootfs=$1 a=$2 b=$3
rounds=${ROUNDS:-20} n=${N:-200} warm=20
out=$(mktemp -d /tmp/spawnbench-ab.XXXXXX)
for i in $(seq 1 "$rounds"); do
        for v in A B; do
                bin=$a; [ "$v" = B ] && bin=$b
                /usr/bin/time -f "$v %U %S" -a -o "$out/cpu.txt" \
                        "$bin" --rootfs "$rootfs" -n "$n" -w "$warm" ${EXTRA:-} -o "$out/$v-$i.json" -- /bin/true >/dev/null
        done
done
python3 - "$out" "$n" "$warm" "$a" "$b" <<'PY'
import glob, json, statistics, sys
out, n, warm, names = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), {"A": sys.argv[4], "B": sys.argv[5]}
for v in ("A", "B"):
    xs, sp, rates = [], [], []
    for f in glob.glob("%s/%s-*.json" % (out, v)):
        d = json.load(open(f))
        xs += d["spawn_to_exit_ns"]
        sp += d["spawn_returned_ns"]
        rates.append(d["rate_per_s"])
    xs.sort()
    cpu = [float(a) + float(b) for k, a, b in (l.split() for l in open(out + "/cpu.txt")) if k == v]
    print("%s n=%d spawn-to-exit median %.3f ms (p10 %.3f, p90 %.3f) | spawn returned median %.3f ms | "
          "CPU per spawn %.3f ms | rate %.0f/s  [%s]" % (v, len(xs), statistics.median(xs) / 1e6, xs[len(xs) // 10] / 1e6,
                                          xs[9 * len(xs) // 10] / 1e6, statistics.median(sp) / 1e6,
                                          sum(cpu) * 1000 / (len(cpu) * (n + warm)), statistics.median(rates),
                                          names[v]))
PY
rm -rf "$out"
