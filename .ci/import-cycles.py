#!/usr/bin/env python3
"""Lists import cycles among src/ files (test modules excluded); exit 1 if any.

A file depends on another when it names a path into it (`crate::a::b`, `super::x`, `self::y`);
a module's own children (declared with `mod`) are not dependencies of it unless named.
"""
import os, re, sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
files = {}
for root, _, names in os.walk(SRC):
    for n in names:
        if n.endswith(".rs"):
            p = os.path.relpath(os.path.join(root, n), SRC)
            if p.endswith("tests.rs") or "/tests/" in p:
                continue
            files[p] = open(os.path.join(root, n)).read()

def module_of(path):
    parts = path[:-3].split("/")
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts

mods = {tuple(module_of(p)): p for p in files}

def strip_tests(text):
    # Drop `#[cfg(test)] mod tests { ... }` bodies (inline unit tests).
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)

def resolve(base, segs):
    """The longest known module prefix of base+segs."""
    full = list(base) + segs
    for k in range(len(full), 0, -1):
        if tuple(full[:k]) in mods:
            return mods[tuple(full[:k])]
    return None

edges = {p: set() for p in files}
for p, text in files.items():
    me = module_of(p)
    text = re.sub(r"//[^\n]*", "", strip_tests(text))
    for m in re.finditer(r"\b(crate|super|self)((?:::\{?\w+)+)", text):
        segs = [s.strip("{") for s in m.group(2).split("::") if s]
        if m.group(1) == "crate":
            base = []
        elif m.group(1) == "self":
            base = me
        else:
            base = me[:-1]
            while segs and segs[0] == "super":
                segs, base = segs[1:], base[:-1]
        target = resolve(base, segs)
        if target and target != p:
            edges[p].add(target)
    # Children named without a prefix: `mod load;` then `load::x` or `use load::{..}`.
    for child in re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text, re.M):
        if re.search(r"(?<![:\w])" + child + r"::", text):
            target = resolve(me, [child])
            if target and target != p:
                edges[p].add(target)
    # `use` groups: crate::x::{a, b::c}
    for m in re.finditer(r"\buse\s+crate::(\w+)::\{([^;]*)\};", text):
        for item in re.split(r"[,\s]+", m.group(2)):
            segs = [s for s in item.replace("{", "").replace("}", "").split("::") if s and s != "self"]
            target = resolve([m.group(1)], segs[:1])
            if target and target != p:
                edges[p].add(target)

# Tarjan's strongly connected components.
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in files:
    if v not in index:
        visit(v)
for c in sccs:
    print("import cycle:", " <-> ".join(c))
    for a in c:
        print("   ", a, "->", ", ".join(sorted(b for b in edges[a] if b in c)))
sys.exit(1 if sccs else 0)
