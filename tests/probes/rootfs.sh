#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Build the probe rootfs (run as root; files owned by uid 0 on disk, which
# the launcher's idmapped mount shows as 0 inside).
#
#   tests/probes/rootfs.sh OUT PROBE CANARY
#
#   OUT     directory to create (must not exist)
#   PROBE   the static probe binary
#   CANARY  absolute host path of a canary file outside OUT; the rootfs gets
#           symlinks that point at it, as a hostile image would
#
# Layout:
#   /bin/busybox + applet symlinks, /probe (0755)
#   /probe-suid   setuid-root copy of the probe (4755): nosuid must ignore it
#   /probe-fcap   copy with file capabilities cap_sys_admin,cap_setuid+ep
#                 (absent when setcap is missing or the filesystem refuses)
#   /proc /dev /tmp /etc /sys /work   empty directories (/sys must stay empty)
#   /etc/passwd /etc/group
#   /hostlink     -> CANARY (absolute symlink to a host path)
#   /hostlink-dir -> ../../../../../.. (relative symlink climbing out)
#   /escape       -> /../../../.. (for --workdir)
#   /evilmem      character device 1:1 (/dev/mem), mode 0666: nodev must stop it
set -euo pipefail

if [ $# -ne 3 ]; then
        echo "usage: $0 OUT PROBE CANARY" >&2
        exit 2
fi
out=$1
probe=$2
canary=$3
busybox=$(command -v busybox)

mkdir "$out"
mkdir -p "$out"/{bin,proc,dev,tmp,etc,sys,work,usr/bin,sbin,secrets}
install -m 0755 "$busybox" "$out/bin/busybox"
for applet in $("$out/bin/busybox" --list); do
        [ -e "$out/bin/$applet" ] || ln -s busybox "$out/bin/$applet"
done
install -m 0755 "$probe" "$out/probe"
printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\nfn:x:1000:1000:fn:/work:/bin/sh\n' >"$out/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\nfn:x:1000:\n' >"$out/etc/group"
ln -s "$canary" "$out/hostlink"
ln -s ../../../../../.. "$out/hostlink-dir"
ln -s /../../../.. "$out/escape"
mknod -m 0666 "$out/evilmem" c 1 1
chown -hR 0:0 "$out"
chmod 0755 "$out" "$out/work"
chmod 1777 "$out/tmp"
# After the chown, which would clear setuid bits and file capabilities.
install -o 0 -g 0 -m 4755 "$probe" "$out/probe-suid"
if command -v setcap >/dev/null; then
        install -o 0 -g 0 -m 0755 "$probe" "$out/probe-fcap"
        setcap cap_sys_admin,cap_setuid+ep "$out/probe-fcap" 2>/dev/null || rm -f "$out/probe-fcap"
fi
