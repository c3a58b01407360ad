# SPDX-License-Identifier: MIT
"""Deploy-time checks of the warm-pool settings in labels and annotations
(core/runtime/pool.c pools_check_meta): a value sfaasd would otherwise ignore or
misread is a 400 naming the key, and the function is not stored."""
import pytest

from sfaasd_testlib import error_of

BAD = [
    ({"annotations": {"com.sfaasd.mode": "warm"}}, "com.sfaasd.mode"),
    ({"annotations": {"com.sfaasd.port": "0"}}, "com.sfaasd.port"),
    ({"annotations": {"com.sfaasd.port": "70000"}}, "com.sfaasd.port"),
    ({"labels": {"com.openfaas.scale.min": "-1"}}, "com.openfaas.scale.min"),
    ({"labels": {"com.openfaas.scale.min": "two"}}, "com.openfaas.scale.min"),
    ({"labels": {"com.openfaas.scale.max": "0"}}, "com.openfaas.scale.max"),
    ({"labels": {"com.openfaas.scale.min": "5", "com.openfaas.scale.max": "2"}}, "com.openfaas.scale.min"),
    ({"annotations": {"com.sfaasd.max-inflight": "1.5"}}, "com.sfaasd.max-inflight"),
    ({"annotations": {"com.sfaasd.queue-max": "lots"}}, "com.sfaasd.queue-max"),
    ({"labels": {"com.openfaas.scale.zero-duration": "soon"}}, "com.openfaas.scale.zero-duration"),
    ({"annotations": {"com.sfaasd.timeout": "5 parsecs"}}, "com.sfaasd.timeout"),
    ({"annotations": {"com.sfaasd.grace-period": "-3s"}}, "com.sfaasd.grace-period"),
    ({"labels": {"com.openfaas.scale.zero": "maybe"}}, "com.openfaas.scale.zero"),
]


@pytest.mark.parametrize("extra,key", BAD, ids=[k + "=" + str(list(e.values())[0]) for e, k in BAD])
def test_bad_pool_setting_is_400_naming_it(api, busybox, extra, key):
    for method in ("POST", "PUT"):
        r = api.deploy("meta-bad", method=method, **extra)
        assert r.status_code == 400, r.text
        assert key in error_of(r)
    assert api.get("/system/function/meta-bad").status_code == 404


def test_good_pool_settings_accepted(api, busybox):
    r = api.deploy("meta-good", expect=202,
                   labels={"com.openfaas.scale.min": "0", "com.openfaas.scale.max": "3",
                           "com.openfaas.scale.zero": "false", "com.openfaas.scale.zero-duration": "1m30s"},
                   annotations={"com.sfaasd.mode": "exec", "com.sfaasd.port": "8080", "com.sfaasd.timeout": "500ms",
                                "com.sfaasd.max-inflight": "4", "com.sfaasd.queue-max": "10",
                                "com.sfaasd.grace-period": "2s"})
    st = api.get("/system/function/meta-good").json()
    assert st["sfaasd"]["mode"] == "exec"
    assert st["annotations"]["com.sfaasd.timeout"] == "500ms"
    api.remove("meta-good")
