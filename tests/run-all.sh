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

# Fuzz corpus replays (tests/fuzz/): one test case per harness.
for t in "$BUILD"/tests/fuzz_*; do
        [ -x "$t" ] || continue
        name=$(basename "$t")
        corpus=tests/fuzz/corpus/${name#fuzz_}
        if "$t" "$corpus" >"$out/$name.log" 2>&1; then
                echo "   $name: ok ($(tail -n1 "$out/$name.log"))"
                result=""
        else
                echo "   $name: FAILED"
                tail -40 "$out/$name.log" | sed 's/^/      /'
                result='<failure message="replay failed"/>'
        fi
        printf '<testsuite name="fuzz"><testcase classname="fuzz" name="%s">%s</testcase></testsuite>\n' \
                "$name" "$result" >"$out/fuzz-$name.xml"
done

echo "== integration, probe and browser tests (pytest)"
"$PYTHON" -m pytest -q -p no:cacheprovider --junitxml="$out/pytest.xml" tests/integration tests/probes tests/browser "$@" \
        || true
[ -f "$out/pytest.xml" ] || crashed=$((crashed + 1))

"$PYTHON" tests/junit_sum.py --crashed "$crashed" "$out"/*.xml
