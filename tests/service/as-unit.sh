#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Run sfaasd the way systemd runs packaging/sfaasd.service, on a host whose
# PID 1 is not systemd (CI containers, this project's build machines), so
# the test suite and the hostile probes can run under the unit's settings:
#
#   SFAASD_BIN=$PWD/tests/service/as-unit.sh  make test-service   (the Makefile sets the rest)
#   tests/service/as-unit.sh serve --listen 127.0.0.1:0 --data /tmp/d
#
# It reads the unit file and applies, in systemd's order:
#   mount namespace  ProtectSystem=strict (every mount read-only but /proc,
#                    /sys, /dev and the writable paths below), StateDirectory=,
#                    RuntimeDirectory= (kept: as with RuntimeDirectoryPreserve=)
#                    and ReadWritePaths= writable, ReadOnlyPaths= read-only
#                    (after those: the deeper path wins, as in systemd),
#                    PrivateTmp= (/tmp and
#                    /var/tmp stay writable: the tests keep their data there;
#                    not private), ProtectHome=yes (empty read-only tmpfs),
#                    PrivateDevices=yes (a tmpfs /dev with null, zero, full,
#                    random, urandom, tty, pts, shm), ProtectKernelModules=,
#                    ProtectKernelTunables= and ProtectKernelLogs= when set
#   UTS namespace    ProtectHostname=yes
#   UMask=, LimitNOFILE=
#   capabilities     CapabilityBoundingSet= (setpriv --bounding-set; ambient
#                    and inheritable empty), NoNewPrivileges=yes
#   seccomp          SystemCallFilter=~ (groups expanded by systemd-analyze
#                    syscall-filter, plus @clock for ProtectClock=, @raw-io
#                    for PrivateDevices=, @module for ProtectKernelModules=),
#                    SystemCallErrorNumber=, RestrictAddressFamilies=,
#                    RestrictSUIDSGID=, RestrictRealtime=, LockPersonality=,
#                    SystemCallArchitectures=native (tests/service/unitexec.c)
# Not applied (no way without systemd's manager): DevicePolicy=/DeviceAllow=
# (a cgroup device program for the whole subtree), Delegate= (the process
# stays in the caller's cgroup), the private namespace of PrivateTmp=, and
# KeyringMode=. docs/SERVICE.md lists what was verified this way.
#
# Environment:
#   SFAASD_UNIT_BIN        the real sfaasd (default: the repository's ./sfaasd)
#   SFAASD_UNIT_FILE       the unit (default: packaging/sfaasd.service)
#   SFAASD_UNITEXEC        the seccomp loader (default: build/tests/unitexec)
#   SFAASD_UNIT_EXTRA      more "Key=value" lines, applied after the file's
#                          (e.g. to show what ProtectKernelTunables=yes breaks)
#   SFAASD_UNIT_EXTRA_CAPS capabilities added to the bounding set (the probes
#                          run `sfaasd run`, which the service never runs; see
#                          docs/SERVICE.md)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." 2>/dev/null && pwd || true)
BIN=${SFAASD_UNIT_BIN:-$repo/sfaasd}
UNIT=${SFAASD_UNIT_FILE:-$repo/packaging/sfaasd.service}
UNITEXEC=${SFAASD_UNITEXEC:-$repo/build/tests/unitexec}

# The unit's [Service] settings, last one wins (as systemd's for these keys).
declare -A S
while IFS= read -r line; do
        case "$line" in
        ''|'#'*|';'*|'['*) continue ;;
        *=*) S[${line%%=*}]=${line#*=} ;;
        esac
done < <(sed -n '/^\[Service\]/,/^\[/p' "$UNIT"; printf '%s\n' "${SFAASD_UNIT_EXTRA:-}")
on() { case "${S[$1]:-no}" in yes|true|on|1) return 0 ;; *) return 1 ;; esac; }

if [ "${1:-}" != "--inside-namespaces" ]; then
        ns=(--mount --propagation slave)
        on ProtectHostname && ns+=(--uts)
        exec unshare "${ns[@]}" -- "$0" --inside-namespaces "$@"
fi
shift

# ---- mounts (we are root in a private mount namespace; nothing propagates back)
rw=(/tmp /var/tmp)
for d in ${S[StateDirectory]:-}; do rw+=("/var/lib/$d"); mkdir -p "/var/lib/$d"; done
for d in ${S[RuntimeDirectory]:-}; do
        rw+=("/run/$d")
        mkdir -p "/run/$d"
        chmod "${S[RuntimeDirectoryMode]:-0755}" "/run/$d"
done
for d in ${S[ReadWritePaths]:-}; do rw+=("${d#-}"); done
if [ "${S[ProtectSystem]:-no}" = strict ]; then
        for p in "${rw[@]}"; do [ -d "$p" ] && mount -n --bind "$p" "$p"; done
        # Every other mount read-only (per mount: remount,bind never touches
        # the file system itself), but the API file systems.
        findmnt -rn -o TARGET | while read -r t; do
                t=$(printf '%b' "$t")
                case "$t" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
                keep=0
                for p in "${rw[@]}"; do case "$t" in "$p"|"$p"/*) keep=1 ;; esac; done
                [ $keep = 1 ] || mount -n -o remount,bind,ro "$t" 2>/dev/null || true
        done
fi
for p in ${S[ReadOnlyPaths]:-}; do
        # "-PATH": a missing path is no error (systemd's rule)
        if [ ! -e "${p#-}" ]; then
                [ "${p#-}" != "$p" ] && continue
                echo "as-unit.sh: ReadOnlyPaths=$p does not exist" >&2
                exit 1
        fi
        p=${p#-}
        mount -n --bind "$p" "$p"
        mount -n -o remount,bind,ro "$p"
done
if [ "${S[ProtectHome]:-no}" = yes ]; then
        for d in /home /root /run/user; do
                [ -d "$d" ] && mount -n -t tmpfs -o ro,mode=000,nosuid,nodev,noexec tmpfs "$d"
        done
fi
if on ProtectKernelModules; then
        for d in /usr/lib/modules /lib/modules; do
                [ -d "$d" ] && mount -n -t tmpfs -o ro,mode=000 tmpfs "$d"
        done
fi
if on PrivateDevices; then
        dev=$(mktemp -d /tmp/sfaasd-unit-dev.XXXXXX)
        mount -n -t tmpfs -o mode=755,nosuid,noexec tmpfs "$dev"
        for n in null zero full random urandom tty; do
                cp -a "/dev/$n" "$dev/$n"
        done
        mkdir "$dev/pts" "$dev/shm"
        mount -n --bind /dev/pts "$dev/pts"
        mount -n --rbind /dev/shm "$dev/shm"
        ln -s pts/ptmx "$dev/ptmx"
        ln -s /proc/self/fd "$dev/fd"
        ln -s /proc/self/fd/0 "$dev/stdin"
        ln -s /proc/self/fd/1 "$dev/stdout"
        ln -s /proc/self/fd/2 "$dev/stderr"
        mount -n --move "$dev" /dev
        rmdir "$dev"
fi
if on ProtectKernelTunables; then
        for p in /proc/sys /proc/sysrq-trigger /proc/bus /proc/fs /proc/irq /proc/acpi /proc/latency_stats \
                 /proc/timer_stats; do
                [ -e "$p" ] && mount -n --bind "$p" "$p" && mount -n -o remount,bind,ro "$p"
        done
        mount -n -o remount,bind,ro /sys 2>/dev/null || true
fi
if on ProtectKernelLogs; then
        [ -e /proc/kmsg ] && mount -n --bind /dev/null /proc/kmsg
fi

# ---- process settings
umask "${S[UMask]:-0022}"
# (a host whose own limit is lower, without CAP_SYS_RESOURCE to raise it,
# keeps its hard limit)
if [ -n "${S[LimitNOFILE]:-}" ]; then
        ulimit -n "${S[LimitNOFILE]}" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi

caps=all
if [ -n "${S[CapabilityBoundingSet]:-}" ]; then
        caps="-all"
        for c in ${S[CapabilityBoundingSet]} ${SFAASD_UNIT_EXTRA_CAPS:-}; do
                c=${c#CAP_}
                caps+=",+${c,,}"
        done
fi
priv=(setpriv "--bounding-set=$caps" --inh-caps=-all)
on NoNewPrivileges && priv+=(--no-new-privs)

# SystemCallFilter=~@group ...: names, groups expanded recursively
expand() {
        local g
        for g in "$@"; do
                if [ "${g#@}" != "$g" ]; then
                        # shellcheck disable=SC2046
                        expand $(systemd-analyze syscall-filter --no-pager "$g" | sed -n 's/^    \([^#].*\)$/\1/p')
                else
                        echo "$g"
                fi
        done
}
deny=()
filter=${S[SystemCallFilter]:-}
if [ -n "$filter" ]; then
        [ "${filter#\~}" != "$filter" ] || { echo "as-unit.sh: only deny lists (~...) are supported" >&2; exit 2; }
        deny+=(${filter#\~})
fi
on ProtectClock && deny+=(@clock)
on PrivateDevices && deny+=(@raw-io)
on ProtectKernelModules && deny+=(@module)
sec=("$UNITEXEC")
if [ ${#deny[@]} -gt 0 ]; then
        for n in $(expand "${deny[@]}" | sort -u); do sec+=(--deny "$n"); done
fi
case "${S[SystemCallErrorNumber]:-}" in
'') ;;
EPERM) sec+=(--errno 1) ;;
*) echo "as-unit.sh: SystemCallErrorNumber=${S[SystemCallErrorNumber]} not supported" >&2; exit 2 ;;
esac
if [ -n "${S[RestrictAddressFamilies]:-}" ]; then
        sec+=(--families "$(echo ${S[RestrictAddressFamilies]} | tr ' ' ',')")
fi
on RestrictSUIDSGID && sec+=(--restrict-suid-sgid)
on RestrictRealtime && sec+=(--restrict-realtime)
on LockPersonality && sec+=(--lock-personality)
[ "${S[SystemCallArchitectures]:-}" = native ] && sec+=(--native-only)

exec "${priv[@]}" -- "${sec[@]}" -- "$BIN" "$@"
