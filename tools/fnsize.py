#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The function-size check (make lint): no function of the product longer
than LIMIT lines (docs/STYLE.md: steps with names, not one long body).

A function is a body that opens with '{' in column 0 and closes with '}' in
column 0 (the kernel style the code is formatted in); its length is the
number of lines between the two braces.

  tools/fnsize.py [--limit N] FILE...    print each long function, exit 1 on any
"""
import sys

LIMIT = 150


def long_functions(path, limit):
    found = []
    head = ""
    start = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for no, line in enumerate(f, 1):
            if start is None:
                if line.startswith("{"):
                    start = no
                elif line[:1].isalpha() or line[:1] == "_":
                    head = line.strip()
            elif line.startswith("}"):
                if no - start - 1 > limit:
                    found.append((no - start - 1, start, head))
                start = None
    return found


def main(argv):
    limit = LIMIT
    if len(argv) > 2 and argv[1] == "--limit":
        limit = int(argv[2])
        argv = argv[2:]
    bad = 0
    for path in argv[1:]:
        for length, line, head in long_functions(path, limit):
            print("%s:%d: %d lines (at most %d): %s" % (path, line, length, limit, head))
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
