# SPDX-License-Identifier: MIT
"""One format for settings in and out: `serve --print-config` writes sizes,
CPU quantities and durations the way a config file does (the shipped
packaging/config.json included), and its output, read back as a config,
prints the same."""
import json
import os
import subprocess

from sfaasd_testlib import BIN, HTTP_TIMEOUT, REPO

SHIPPED = os.path.join(REPO, "packaging", "config.json")


def print_config(*args):
    r = subprocess.run([BIN, "serve", *args, "--print-config"], capture_output=True, text=True,
                       timeout=HTTP_TIMEOUT)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_shipped_config_printed_as_written():
    with open(SHIPPED) as f:
        shipped = json.load(f)
    printed = print_config("--config", SHIPPED)
    for key, value in shipped.items():
        assert printed[key] == value, "%s: shipped %r, printed %r" % (key, value, printed[key])
    # Until the front door brings TLS, the service answers on loopback only.
    assert shipped["listen"].startswith("127.0.0.1:")


def test_printed_config_is_a_fixed_point(tmp_path):
    defaults = print_config()
    for v in defaults.values():
        assert not (isinstance(v, str) and v.endswith("ms") and v[:-2].isdigit() and int(v[:-2]) % 1000 == 0), \
            "a whole number of seconds printed in ms: %r" % v
    p = tmp_path / "c.json"
    p.write_text(json.dumps(defaults))
    assert print_config("--config", str(p)) == defaults
    # Other spellings of the same values print the one way.
    p.write_text(json.dumps({"function_timeout": 60, "function_memory": 134217728, "function_cpu": "1000m",
                             "http_idle": "300s", "max_body_bytes": "8192Ki", "header_timeout": "10000ms"}))
    got = print_config("--config", str(p))
    assert (got["function_timeout"], got["function_memory"], got["function_cpu"], got["http_idle"],
            got["max_body_bytes"], got["header_timeout"]) == ("1m", "128Mi", "1", "5m", "8Mi", "10s")
