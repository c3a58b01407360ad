#!/usr/bin/env bash
# Runs every test tier against the real binary; the last line is
# "N passed, N failed". Called by `make test` and `make asan`.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
export SFAASD_BIN=${SFAASD_BIN:-$PWD/sfaasd}
out=$(mktemp -d /tmp/sfaasd-test.XXXXXX)
trap 'rm -rf "$out"' EXIT
crashed=0

echo "== unit tests (cmocka)"
for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        name=$(basename "$t")
        if CMOCKA_MESSAGE_OUTPUT=xml CMOCKA_XML_FILE="$out/unit-$name-%g.xml" "$t" >"$out/$name.log" 2>&1; then
                echo "   $name: ok"
        else
                echo "   $name: FAILED"
                sed 's/^/      /' "$out/$name.log" | tail -40
                ls "$out"/unit-"$name"-*.xml >/dev/null 2>&1 || crashed=$((crashed + 1))
        fi
done

echo "== integration and probe tests (pytest)"
"$PYTHON" -m pytest -q -p no:cacheprovider --junitxml="$out/pytest.xml" tests/integration tests/probes "$@" \
        || true
[ -f "$out/pytest.xml" ] || crashed=$((crashed + 1))

"$PYTHON" tests/junit_sum.py --crashed "$crashed" "$out"/*.xml
