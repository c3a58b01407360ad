# SPDX-License-Identifier: MIT
"""The hostile probes (probe.c, the cases of test_probes.py) run as a
container image through Podman, with any OCI runtime: sfaasd-runc for the
test (test_oci_probes.py), sfaasd-runc and crun side by side for the
evidence (bench/oci).

The image is the probe rootfs of rootfs.sh (busybox, /probe, a setuid
copy, a file-capability copy, a device node, symlinks out of the image)
imported into a private Podman store. Every case runs as

    podman run --rm --network none --read-only --cap-drop all
               --memory 64m --pids-limit 64 --tmpfs /tmp:size=16000000
               [the case's options] IMAGE /probe CASE ARGS...

the same flags for every runtime: the comparison is of the sandbox each
runtime builds from one and the same spec. --network none: the engine's
network is the engine's business; --cap-drop all: a spec that grants no
capability must get none; --read-only: a spec that asks for a read-only
root. Cases that test sfaasd run's own options (--timeout, --workdir, a
terminal on the caller's side, a uid base) have no Podman form and are
listed in NOT_APPLICABLE with the reason.
"""
import dataclasses
import os
import re
import subprocess
import time

from test_probes import CASES, NONCE, TMPFS_BYTES, parse_result

IMAGE = "localhost/sfaasd-probe:latest"
BASE_FLAGS = ["--network", "none", "--read-only", "--cap-drop", "all", "--memory", "64m", "--pids-limit", "64",
              "--tmpfs", "/tmp:size=%d" % TMPFS_BYTES, "--ulimit", "nofile=1024:1024",
              "--ulimit", "nproc=4096:4096"]

NOT_APPLICABLE = {
    "isatty": "a terminal on the caller's side (podman -t hands the container a pty by design)",
    "tiocsti": "ditto", "tiocsti_hibits_tty": "ditto", "tioclinux": "ditto",
    "cpu_spin": "sfaasd run --timeout has no podman form", "cpu_spin_forks": "ditto",
    "workdir_symlink": "podman resolves and makes --workdir itself", "workdir_dotdot": "ditto",
    "uid_map": "the uid range is sfaasd-runc's own (test_oci.py checks it)", "uid_map_default": "ditto",
    "hostname": "podman names the container's host itself",
    "rlimits": "the values are the engine's spec (nofile, fsize), not sfaasd run's",
    "fsize": "ditto", "fd_bomb": "ditto",
}

# Podman equivalents of sfaasd run's options.
def podman_opts(case, host):
    out = []
    opts = [host.subst(o) for o in case.opts]
    i = 0
    while i < len(opts):
        o, v = opts[i], opts[i + 1] if i + 1 < len(opts) else None
        if o == "--user":
            out += ["--user", v]
        elif o == "--bind":
            out += ["-v", v + ":ro,noexec"]
        elif o == "--cpu":
            out += ["--cpus", v]
        else:
            raise ValueError("no podman form for %s" % o)
        i += 2
    return out


# Known, accepted deviations (strict: the test fails once they are fixed).
XFAIL = {
    "mountinfo_no_host_path": "the engine's bind mounts (/etc/hosts, /etc/resolv.conf) show their host paths in "
                              "mountinfo, as with runc and crun",
}


# A spec's tmpfs gets 16384 inodes unless its options say nr_inodes= (which
# Podman 4.3's --tmpfs does not pass), not sfaasd run's 4096.
ARGS = {"tmp_inodes": ("16384",)}


def cases():
    return [dataclasses.replace(c, args=ARGS.get(c.id, c.args)) for c in CASES if c.id not in NOT_APPLICABLE]


class Podman:
    """A private Podman store (its own --root and --runroot)."""

    def __init__(self, base, runtime, runtime_flags=()):
        self.base = ["podman", "--root", str(base / "storage"), "--runroot", str(base / "run"),
                     "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
        self.base += ["--runtime-flag=%s" % f for f in runtime_flags]
        self.base += ["--runtime", runtime]
        self.cwd = str(base)  # Debian's conmon writes its "oom" file into its working folder

    def run(self, *args, timeout=120, env=None):
        return subprocess.run(self.base + list(args), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, env=env, cwd=self.cwd)

    def with_runtime(self, runtime):
        p = Podman.__new__(Podman)
        p.base = [a for a in self.base[:-1] if not a.startswith("--runtime-flag")] + [runtime]
        p.cwd = self.cwd
        return p


def import_image(pm, rootfs):
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "--xattrs", "-cf", "-", "."], stdout=subprocess.PIPE)
    p = subprocess.run(pm.base + ["import", "-", IMAGE], stdin=tar.stdout, capture_output=True, text=True,
                       timeout=300)
    tar.wait()
    if p.returncode != 0:
        raise RuntimeError("podman import failed: %s" % p.stderr)


def run_case(pm, host, case, env=None):
    """(rc, outcome, detail, stderr); outcome None when there is no RESULT."""
    argv = ["/probe", case.probe or case.id, *(host.subst(a) for a in case.args), NONCE]
    p = pm.run("run", "--rm", *BASE_FLAGS, *podman_opts(case, host), IMAGE, *argv, env=env)
    res = parse_result(p.stdout)
    if res is None:
        return p.returncode, None, "", p.stderr
    return p.returncode, res[1], res[2], p.stderr


def judge(case, rc, outcome):
    """What the test asks of sfaasd-runc: the exit status of a result-less
    case, else the kernel's answer judged by the probe itself."""
    if not case.result:
        return rc == case.rc
    return outcome == "contained"
