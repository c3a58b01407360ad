#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The layering check (make test): which file of the product uses which,
read from the built objects with nm (so calls count, not #include lines),
checked against the layer order in tools/layers.txt.

A file A uses B when A's object references a global symbol that B's object
defines. It fails when
  - a file uses a file of a higher layer, or of another group of its rank
    (sandbox and store never use each other);
  - files use each other in a circle of more than two files (a module and
    its private helper may use each other);
  - an object matches no layer.

  tools/layers.py BUILD_DIR            check, print violations, exit 1 on any
  tools/layers.py BUILD_DIR --graph    also print every file's uses
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def load_layers(path):
    layers = []  # (rank, group, [prefixes])
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            rank, group, *prefixes = line.split()
            layers.append((int(rank), group, prefixes))
    return layers


def layer_of(src, layers):
    best = None
    for rank, group, prefixes in layers:
        for p in prefixes:
            if src.startswith(p) and (best is None or len(p) > best[2]):
                best = (rank, group, len(p))
    return best[:2] if best else None


def symbols(obj):
    out = subprocess.run(["nm", "--format=posix", obj], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            undefined.add(name)
        elif kind in "TDBRVWGSC" or kind in "i":
            defined.add(name)
    return defined, undefined


def objects(build):
    objs = {}
    for root, dirs, files in os.walk(build):
        rel = os.path.relpath(root, build)
        if rel.split(os.sep)[0] in ("tests", "llhttp", "tools", "fuzz"):
            continue
        for f in files:
            if f.endswith(".o"):
                src = os.path.normpath(os.path.join(rel, f[:-2] + ".c"))
                if not os.path.exists(os.path.join(HERE, "..", src)):
                    # generated in the build folder (web assets, seccomp
                    # policy), or a stale object of a source that is gone
                    if not os.path.exists(os.path.join(root, f[:-2] + ".c")):
                        continue
                    src = "build/" + src
                objs[src] = os.path.join(root, f)
    return objs


def sccs(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    layers = load_layers(os.path.join(HERE, "layers.txt"))
    objs = objects(build)
    defs, undefs = {}, {}
    for src, obj in objs.items():
        defs[src], undefs[src] = symbols(obj)
    owner = {}
    for src, d in defs.items():
        for s in d:
            owner.setdefault(s, src)
    graph = {src: set() for src in objs}
    for src, u in undefs.items():
        for s in u:
            o = owner.get(s)
            if o and o != src:
                graph[src].add(o)
    bad = []
    for src in sorted(objs):
        if layer_of(src, layers) is None:
            bad.append("%s: in no layer of tools/layers.txt" % src)
    for a in sorted(graph):
        la = layer_of(a, layers)
        for b in sorted(graph[a]):
            lb = layer_of(b, layers)
            if not la or not lb:
                continue
            if lb[0] > la[0] or (lb[0] == la[0] and lb[1] != la[1]):
                syms = sorted(s for s in undefs[a] if owner.get(s) == b)
                bad.append("%s (%s) uses %s (%s): %s" % (a, la[1], b, lb[1], ", ".join(syms[:4])))
    for comp in sccs(graph):
        if len(comp) > 2:
            bad.append("circle of %d files: %s" % (len(comp), " ".join(comp)))
    if "--graph" in sys.argv:
        for a in sorted(graph):
            print("%s -> %s" % (a, " ".join(sorted(graph[a]))))
    for b in bad:
        print("layers: " + b)
    print("layers: %d files, %d uses, %d problem(s)" % (len(graph), sum(len(v) for v in graph.values()), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
