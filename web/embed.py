#!/usr/bin/python3
"""Embed the web UI files into a C source (build step, see Makefile).

Emits `const struct web_asset web_assets[]` with name, content type and bytes,
terminated by a zeroed entry. core/api/ui.c serves them under /ui/.
"""
import os
import sys

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


def main() -> None:
    out, files = sys.argv[1], sys.argv[2:]
    lines = ['#include <stddef.h>', '#include "core/api/ui.h"', ""]
    for i, path in enumerate(files):
        data = open(path, "rb").read()
        body = ",".join(str(b) for b in data)
        lines.append(f"static const unsigned char asset_{i}[] = {{{body},0}};")
    lines.append("const struct web_asset web_assets[] = {")
    for i, path in enumerate(files):
        name = os.path.basename(path)
        ctype = TYPES.get(os.path.splitext(name)[1], "application/octet-stream")
        size = os.path.getsize(path)
        lines.append(f'    {{"{name}", "{ctype}", asset_{i}, {size}}},')
    lines.append("    {NULL, NULL, NULL, 0},")
    lines.append("};")
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
