# SPDX-License-Identifier: MIT
"""packaging/sfaasd.bash-completion offers every subcommand of `sfaasd
--help` and, for each, exactly the long options its --help lists (so the two
cannot drift apart)."""
import os
import re
import subprocess

import pytest

from sfaasd_testlib import BIN, REPO

BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
SCRIPT = os.path.join(REPO, "packaging", "sfaasd.bash-completion")


def complete(*words):
    """What the completion offers after `sfaasd WORDS...` (the last word is
    the one being completed)."""
    if not os.path.exists(BASH_COMPLETION):
        pytest.skip("bash-completion is not installed")
    prog = r'''
source %s
source %s
COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
_sfaasd
printf '%%s\n' "${COMPREPLY[@]}"
''' % (BASH_COMPLETION, SCRIPT)
    r = subprocess.run(["bash", "-c", prog, "bash", "sfaasd", *words], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def help_of(*args):
    r = subprocess.run([BIN, *args, "--help"], capture_output=True, text=True, timeout=30)
    return r.stdout + r.stderr


def long_options(text):
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text))


def test_subcommands():
    listed = set(re.findall(r"^  (\w+) ", subprocess.run([BIN, "--help"], capture_output=True, text=True).stdout,
                            re.M))
    assert listed and listed <= complete("")


@pytest.mark.parametrize("cmd", ["serve", "run", "check", "backup", "deploy", "list", "invoke", "rm", "logs",
                                 "routes"])
def test_options_match_help(cmd):
    assert complete(cmd, "--") == long_options(help_of(cmd)) | {"--help"}


SUBCOMMANDS = [("image", s) for s in ("import", "list", "rm", "prune")] + \
    [("secret", s) for s in ("create", "list", "rm")] + \
    [("tenant", s) for s in ("create", "list", "show", "rm", "quota", "invoke-auth")] + \
    [(c, s) for c in ("token", "key") for s in ("create", "list", "revoke")] + \
    [("audit", "list"), ("audit", "verify"), ("secrets", "rotate-key")]


@pytest.mark.parametrize("cmd,sub", SUBCOMMANDS)
def test_subcommand_options(cmd, sub):
    text = help_of(cmd)
    usage = [line for line in text.splitlines() if re.search(r"sfaasd %s (\[)?%s\b" % (cmd, sub), line)]
    assert usage, text
    assert sub in complete(cmd, sub[:1])
    offered = complete(cmd, sub, "--")
    # every option offered is one `CMD --help` knows; each in that
    # subcommand's usage line is offered
    assert offered <= long_options(text) | {"--help"}
    assert long_options(usage[0]) <= offered


def test_values():
    assert complete("serve", "--log-level", "") == {"error", "warning", "info", "debug"}
    assert complete("invoke", "f", "--method", "P") == {"POST", "PUT", "PATCH"}
