#!/usr/bin/python3
"""Sum JUnit XML reports (cmocka and pytest) into "N passed, N failed".

A test binary that crashed before writing its report counts as one failure
(--crashed). Skipped tests are reported on their own line, before the last.
Exit status is 1 when anything failed or nothing ran.
"""
import argparse
import sys
import xml.etree.ElementTree as ET


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crashed", type=int, default=0)
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    passed = failed = skipped = 0
    for path in args.files:
        try:
            root = ET.parse(path).getroot()
        except (ET.ParseError, OSError) as e:
            print(f"cannot read {path}: {e}")
            failed += 1
            continue
        for case in root.iter("testcase"):
            kinds = {child.tag for child in case}
            if kinds & {"failure", "error"}:
                failed += 1
            elif "skipped" in kinds:
                skipped += 1
            else:
                passed += 1
    failed += args.crashed
    if skipped:
        print(f"({skipped} skipped)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
