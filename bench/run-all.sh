#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make bench`: every benchmark against the peers installed on this machine.
# Not part of `make test`; needs root. Results are printed; raw samples go to
# bench/out/ (gitignored). See bench/RESULTS.md for the last recorded run.
#
#   1. bench/coldstart     `sfaasd run` vs host exec, the unshare floor, bwrap,
#                          crun, runc, runsc: /bin/true start-to-exit, interleaved
#   2. bench/spawnbench    the launcher inside one process (as the daemon uses
#                          it): spawn-to-exit latency and spawns/s, sequential
#                          and 2 in parallel; plus the one-shot phase breakdown
#   3. bench/e2e-http      exec-mode invocations over HTTP through the daemon
#   4. bench/unpack        import+unpack of a debootstrap image (bench/unpackbench)
#                          vs tar -xzf of its layers vs umoci unpack, interleaved
#   5. bench/warm          one warm http-mode instance (httpfn) through wrk:
#                          direct in its netns vs nginx (1 and auto workers)
#                          vs sfaasd's /function/fn, interleaved rounds
#   6. bench/coldinvoke    first call from zero, exec-mode calls, a burst of
#                          200 first calls, all through HTTP
#   7. bench/authcost      the same warm call open vs with a tenant's token
#                          (Bearer and Basic): the cost of authorization
#   8. (BENCH_PROFILE=1)   strace -c -f of `sfaasd run` and of spawnbench
#   9. bench/tls           HTTPS: full handshakes/s and warm requests/s, sfaasd
#                          vs nginx (1 and auto workers), the same certificate
#  10. bench/admission     the issue-13 sandbox floods (20 concurrent calls,
#                          60 callers that give up) counted host-side
#  11. bench/oci           sfaasd-runc vs crun vs runc under Podman and
#                          containerd: the hostile probes through Podman, the
#                          cold start of podman run --rm and ctr run --rm
#  12. bench/pull          pull+unpack of a large image from a local registry
#                          (docker-registry on loopback): sfaasd vs skopeo copy
#                          + umoci unpack, interleaved
#  13. bench/autoscale     a step load (closed-loop callers low -> high -> low)
#                          on one http-mode function: the autoscaler vs a fixed
#                          pool of max instances, instances and p50/p99 per second
#  14. bench/egress        the egress proxy (issue 16) vs a direct veth route:
#                          download/upload throughput and connection setup
#  15. bench/density       1,000 functions with a warm http instance each, then
#                          10,000 functions (issue 18): start time, daemon and
#                          kernel memory and fds per instance, warm-call p50/p99
#                          at 1, 100 and 1,000 instances, GET /system/functions
#
# Knobs (environment): ITER (coldstart rounds, 200), RUNSC_ITER (30),
# SPAWN_N (spawnbench iterations per mode, 2000), E2E_DURATION (wrk seconds, 10),
# BENCH_SKIP_E2E=1, BENCH_SKIP_UNPACK=1, UNPACK_ROUNDS (5), UNPACK_WORK,
# BENCH_SKIP_WARM=1, WARM_ROUNDS (5), WARM_DURATION (wrk seconds, 10),
# BENCH_SKIP_COLDINVOKE=1, COLD_FIRST (200), COLD_EXEC (500), BENCH_SKIP_AUTHCOST=1,
# AUTH_ROUNDS (5), AUTH_DURATION (wrk seconds, 10), BENCH_PROFILE=1,
# BENCH_SKIP_TLS=1, TLS_ROUNDS (3), TLS_DURATION (wrk seconds, 10), BENCH_SKIP_ADMISSION=1,
# BENCH_SKIP_OCI=1, OCI_ROUNDS (20), BENCH_SKIP_PULL=1, PULL_ROUNDS (3), PULL_WORK,
# BENCH_SKIP_AUTOSCALE=1, AS_STEP (seconds per step, 8), AS_LOW (callers, 2), AS_HIGH (8), AS_MAX (instances, 8), AS_BURN_MS
# (CPU per call, 5), AS_WINDOW (scale-down window, 5s), AS_TYPE and AS_TARGET
# (empty: sfaasd's defaults), BENCH_SKIP_EGRESS=1, BENCH_SKIP_DENSITY=1, DENSITY_N (warm
# instances, 1000), DENSITY_FUNCTIONS (10000), DENSITY_CALLS (per size, 10000),
# BENCH_SKIP_LOOPSTALL=1, LOOPSTALL_ROUNDS (3), LOOPSTALL_BASE (an older build to compare).
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
ITER=${ITER:-200}
RUNSC_ITER=${RUNSC_ITER:-30}
SPAWN_N=${SPAWN_N:-2000}
E2E_DURATION=${E2E_DURATION:-10}
OUT=bench/out
SB_BUILD=$OUT/build
mkdir -p "$OUT"
stamp=$(date +%Y%m%d-%H%M%S)

if [ "$(id -u)" != 0 ]; then
        echo "bench: needs root (namespaces, cgroups, crun/runc/runsc)" >&2
        exit 1
fi
[ -x ./sfaasd ] || { echo "bench: ./sfaasd missing (make sfaasd)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/sfaasd-bench.XXXXXX)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
status=0

# A private copy of the binary: the working tree is shared, and a concurrent
# `make` relinking ./sfaasd mid-run would fail or mix two builds.
cp ./sfaasd "$tmp/sfaasd" || exit 1
SFAASD=$tmp/sfaasd

echo "== environment"
echo "   $(uname -sr), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg), $("$SFAASD" version 2>&1 | head -1)"
for t in crun runc runsc bwrap wrk nginx; do
        command -v "$t" >/dev/null || echo "   $t: not installed (make deps-bench)"
done

echo "== building the busybox rootfs shared by every runner"
"$PYTHON" bench/coldstart --make-rootfs "$tmp/rootfs" || exit 1

echo "== building spawnbench (project objects, Makefile CFLAGS, private build dir $SB_BUILD)"
make --no-print-directory -s -f Makefile -f bench/spawnbench.mk BUILD="$SB_BUILD" "$SB_BUILD/spawnbench" || exit 1

echo "== 1. cold start of /bin/true: sfaasd run vs peers (interleaved round-robin)"
"$PYTHON" bench/coldstart --rootfs "$tmp/rootfs" --iterations "$ITER" --runsc-iterations "$RUNSC_ITER" \
        --sfaasd "$SFAASD" --spawnbench "$SB_BUILD/spawnbench" \
        --out "$OUT" || status=1

echo "== 2. the launcher inside one process (no runtime binary exec'd)"
sb=$SB_BUILD/spawnbench
run_sb() { # label, args...
        local label=$1
        shift
        "$sb" --rootfs "$tmp/rootfs" --label "$label" -o "$OUT/spawnbench-$stamp-$label.json" "$@" || status=1
}
run_sb seq -n "$SPAWN_N" --mode seq
run_sb seq-netns-pool -n "$SPAWN_N" --mode seq --netns-pool
run_sb par2-proc -n "$SPAWN_N" --mode proc -p 2
run_sb par2-thread -n "$SPAWN_N" --mode thread -p 2
run_sb oneshot -n 200 --mode oneshot
"$PYTHON" - "$OUT" "$stamp" <<'EOF'
import json, statistics, sys
out, stamp = sys.argv[1], sys.argv[2]
def load(label):
    try:
        with open("%s/spawnbench-%s-%s.json" % (out, stamp, label)) as f:
            return json.load(f)
    except OSError:
        return None
seq, par, thr = load("seq"), load("par2-proc"), load("par2-thread")
if seq:
    m = statistics.median(seq["spawn_to_exit_ns"]) / 1e6
    r = seq["rate_per_s"]
    print("target spawn-to-exit median <= 1.5 ms: %.3f ms -> %s" % (
        m, "MET (%.3f ms to spare)" % (1.5 - m) if m <= 1.5 else "MISSED by %.3f ms (%.0f%% over)" % (m - 1.5, 100 * (m - 1.5) / 1.5)))
    print("target sequential rate >= 500/s: %.0f/s -> %s" % (
        r, "MET" if r >= 500 else "MISSED by %.0f/s (%.0f%% short)" % (500 - r, 100 * (500 - r) / 500)))
for name, d in (("2-parallel (processes)", par), ("2-parallel (threads)", thr)):
    if d and seq:
        print("%s: %.0f spawns/s = %.2fx the sequential rate" % (name, d["rate_per_s"], d["rate_per_s"] / seq["rate_per_s"]))
EOF

if [ "${BENCH_SKIP_E2E:-0}" != 1 ]; then
        echo "== 3. end to end: exec-mode invocations over HTTP (POST /function/cat)"
        if [ ! -f tests/fixtures/out/busybox-oci.tar ]; then
                make --no-print-directory fixtures >/dev/null || echo "   cannot build the fixture image"
        fi
        "$PYTHON" bench/e2e-http --sfaasd "$SFAASD" --duration "$E2E_DURATION" --out "$OUT" || status=1
fi

if [ "${BENCH_SKIP_UNPACK:-0}" != 1 ]; then
        echo "== 4. image import and unpack: sfaasd vs tar -xzf of the same layers vs umoci unpack (interleaved)"
        make --no-print-directory -s -f Makefile -f bench/unpackbench.mk BUILD="$SB_BUILD" "$SB_BUILD/unpackbench" || status=1
        # The debootstrap rootfs and the image (~400 MB with the unpacked
        # copies) go to the run's temp dir, removed at exit, unless
        # UNPACK_WORK names a folder to keep them in across runs (debootstrap
        # needs the network and ~2 minutes).
        "$PYTHON" bench/unpack --unpackbench "$SB_BUILD/unpackbench" --rounds "${UNPACK_ROUNDS:-5}" \
                --work "${UNPACK_WORK:-$tmp/unpack}" \
                --small "$PWD/tests/fixtures/out/busybox-oci.tar" --json "$OUT/unpack-$stamp.json" || status=1
fi

if [ "${BENCH_SKIP_WARM:-0}" != 1 ] || [ "${BENCH_SKIP_COLDINVOKE:-0}" != 1 ]; then
        if [ ! -f tests/fixtures/out/httpfn-oci.tar ] || [ ! -f tests/fixtures/out/busybox-oci.tar ]; then
                make --no-print-directory fixtures >/dev/null || echo "   cannot build the fixture images"
        fi
fi

if [ "${BENCH_SKIP_WARM:-0}" != 1 ]; then
        echo "== 5. warm http-mode calls: direct in the instance's netns vs nginx vs sfaasd (wrk, interleaved)"
        "$PYTHON" bench/warm --sfaasd "$SFAASD" --rounds "${WARM_ROUNDS:-5}" --duration "${WARM_DURATION:-10}" \
                --out "$OUT" || status=1
fi

if [ "${BENCH_SKIP_COLDINVOKE:-0}" != 1 ]; then
        echo "== 6. first calls from zero, exec-mode calls, a burst of 200 first calls (through HTTP)"
        "$PYTHON" bench/coldinvoke --sfaasd "$SFAASD" --first-calls "${COLD_FIRST:-200}" \
                --exec-calls "${COLD_EXEC:-500}" --out "$OUT" || status=1
fi

if [ "${BENCH_SKIP_AUTHCOST:-0}" != 1 ]; then
        echo "== 7. the cost of authorization: warm calls open vs with a tenant's token (wrk, interleaved)"
        "$PYTHON" bench/authcost --sfaasd "$SFAASD" --rounds "${AUTH_ROUNDS:-5}" --duration "${AUTH_DURATION:-10}" \
                --out "$OUT" || status=1
fi

if [ "${BENCH_PROFILE:-0}" = 1 ] && command -v strace >/dev/null; then
        echo "== 8. where the time goes: strace -c -f (syscall counts; times inflated by strace)"
        strace -c -f -o "$OUT/strace-run-$stamp.txt" "$SFAASD" run --rootfs "$tmp/rootfs" -- /bin/true
        head -25 "$OUT/strace-run-$stamp.txt"
        strace -c -f -o "$OUT/strace-spawnbench-$stamp.txt" "$sb" --rootfs "$tmp/rootfs" -n 200 >/dev/null
        head -25 "$OUT/strace-spawnbench-$stamp.txt"
fi

if [ "${BENCH_SKIP_TLS:-0}" != 1 ]; then
        echo "== 9. HTTPS: handshakes and warm requests, sfaasd vs nginx with the same certificate (wrk, interleaved)"
        "$PYTHON" bench/tls --sfaasd "$SFAASD" --rounds "${TLS_ROUNDS:-3}" --duration "${TLS_DURATION:-10}" \
                --out "$OUT" || status=1
fi

if [ "${BENCH_SKIP_ADMISSION:-0}" != 1 ]; then
        echo "== 10. sandbox floods: 20 concurrent calls of one function, 60 callers that give up"
        "$PYTHON" bench/admission --sfaasd "$SFAASD" || status=1
fi

if [ "${BENCH_SKIP_OCI:-0}" != 1 ]; then
        echo "== 11. sfaasd-runc vs crun vs runc under Podman and containerd (probes, cold start)"
        if command -v podman >/dev/null; then
                "$PYTHON" bench/oci --sfaasd "$SFAASD" --rounds "${OCI_ROUNDS:-20}" --out "$OUT" || status=1
        else
                echo "   skipped: podman is not installed (make deps-bench)"
        fi
fi

if [ "${BENCH_SKIP_PULL:-0}" != 1 ]; then
        echo "== 12. pull and unpack of a large image from a local registry: sfaasd vs skopeo copy + umoci unpack"
        "$PYTHON" bench/pull --sfaasd "$SFAASD" --rounds "${PULL_ROUNDS:-3}" --work "${PULL_WORK:-$tmp/pull}" \
                --json "$OUT/pull-$stamp.json" || status=1
fi

if [ "${BENCH_SKIP_AUTOSCALE:-0}" != 1 ]; then
        echo "== 13. autoscaling: a step load on one function, the autoscaler vs a fixed pool of max instances"
        if [ ! -f tests/fixtures/out/httpfn-oci.tar ]; then
                make --no-print-directory fixtures >/dev/null || echo "   cannot build the fixture images"
        fi
        "$PYTHON" bench/autoscale --sfaasd "$SFAASD" || status=1
fi

if [ "${BENCH_SKIP_EGRESS:-0}" != 1 ]; then
        echo "== 14. egress proxy vs a direct veth route: throughput and connection setup"
        SFAASD_BIN="$SFAASD" "$PYTHON" bench/egress/bench.py | tee "$OUT/egress-$stamp.json" || status=1
fi

if [ "${BENCH_SKIP_DENSITY:-0}" != 1 ]; then
        echo "== 15. density: ${DENSITY_N:-1000} warm instances (a function each), then ${DENSITY_FUNCTIONS:-10000} functions"
        if [ ! -f tests/fixtures/out/httpfn-oci.tar ]; then
                make --no-print-directory fixtures >/dev/null || echo "   cannot build the fixture images"
        fi
        "$PYTHON" bench/density --sfaasd "$SFAASD" --instances "${DENSITY_N:-1000}" \
                --functions "${DENSITY_FUNCTIONS:-10000}" --calls "${DENSITY_CALLS:-10000}" --out "$OUT" || status=1
fi
if [ "${BENCH_SKIP_LOOPSTALL:-0}" != 1 ]; then
        echo "== 16. a warm function's calls while another function scales 0 -> 12 -> 0 (the loop during spawns)"
        if [ ! -f tests/fixtures/out/httpfn-oci.tar ]; then
                make --no-print-directory fixtures >/dev/null || echo "   cannot build the fixture images"
        fi
        # LOOPSTALL_BASE=/path/to/an/older/sfaasd adds it as a second runner, interleaved.
        "$PYTHON" bench/loopstall --rounds "${LOOPSTALL_ROUNDS:-3}" --cycles 10 sfaasd="$SFAASD" \
                ${LOOPSTALL_BASE:+base="$LOOPSTALL_BASE"} || status=1
fi
exit $status
