#!/usr/bin/env python3
"""Import cycles among the files and folders of src/ (issue 12).

A file A depends on a file B when A's object file references (nm: undefined) a global
symbol that B's object file defines.  A folder depends on a folder when one of its files
depends on one of the other's.  The check fails on

  * a cycle between files (a strongly connected component of more than one file),
  * a cycle between folders (the same, one level up: src/io/h5 -> src/quant -> src/io/h5),
  * a file outside src/cli that uses a symbol defined in src/cli (the command-line programs
    are the top of the tree: bench/ and the libraries must not reach into them),
  * with --order: a folder that uses a folder listed after it in the order file (a back-edge
    of the layering the README's Layout section describes), or a folder of src/ that the
    order file does not list,

and prints each cycle as a path with one symbol per edge.  Cycles listed in the allow-list
(known ones, still being removed) pass; an allow-list entry that no longer matches any
cycle is reported so that it can be deleted.

Usage: deps_check.py --build BUILD_DIR --src SOURCE_DIR [--allow FILE] [--order FILE]
                     [--print-graph]

The objects are those CMake left under BUILD_DIR/CMakeFiles/<target>.dir/; for a source
compiled into several targets (or a stale object of a file that moved target) the newest
object is used, and objects whose source file no longer exists are ignored.  Only python3
and binutils' nm are needed.
"""
import argparse
import fnmatch
import os
import re
import subprocess
import sys
from collections import defaultdict

OBJ_RE = re.compile(r"/CMakeFiles/[^/]+\.dir/(.+)\.o$")
SCANNED = ("src/", "bench/")  # bench only for the "nothing uses src/cli" rule
DEFINED = set("TDBRCGSVWiu")  # nm -P types of global definitions (upper case = global)


def find_objects(build, src):
    """{source path relative to src: object path}, newest object per source."""
    best = {}
    for root, _dirs, files in os.walk(os.path.join(build, "CMakeFiles")):
        for f in files:
            if not f.endswith(".o"):
                continue
            path = os.path.join(root, f)
            m = OBJ_RE.search(path)
            if not m:
                continue
            rel = m.group(1)
            if not rel.startswith(SCANNED) or not os.path.exists(os.path.join(src, rel)):
                continue
            if rel not in best or os.path.getmtime(path) > os.path.getmtime(best[rel]):
                best[rel] = path
    return best


def symbols(obj):
    """(defined, undefined) global symbol names of one object file."""
    out = subprocess.run(["nm", "-P", "-g", obj], check=True, capture_output=True, text=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind in ("U", "w", "v"):
            undefined.add(name)
        elif kind in DEFINED:
            defined.add(name)
    return defined, undefined


def file_graph(objects):
    """{file: {dependency: example symbol}} over the scanned files."""
    syms = {rel: symbols(obj) for rel, obj in objects.items()}
    owner = defaultdict(list)
    for rel, (defined, _u) in syms.items():
        for s in defined:
            owner[s].append(rel)
    graph = {rel: {} for rel in syms}
    for rel, (_d, undefined) in syms.items():
        for s in sorted(undefined):
            for dep in owner.get(s, ()):
                if dep != rel:
                    graph[rel].setdefault(dep, s)
    return graph


# Folders whose subfolders belong to them as one module (order-file entries "DIR/**"): e.g.
# src/quant/ggml holds formats of the src/quant table and uses its kernels, so the two are one
# folder for the folder graph (file cycles are still checked inside).
FOLDED = []


def folder_of(rel):
    d = os.path.dirname(rel)
    for top in FOLDED:
        if d == top or d.startswith(top + "/"):
            return top
    return d


def folder_graph(graph):
    fg = defaultdict(dict)
    for a, deps in graph.items():
        fa = folder_of(a)
        fg.setdefault(fa, {})
        for b, sym in deps.items():
            fb = folder_of(b)
            if fb != fa:
                fg[fa].setdefault(fb, "%s -> %s (%s)" % (a, b, sym))
    return fg


def sccs(graph):
    """Strongly connected components (Tarjan, iterative), each a sorted list."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, {}))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, {})))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return [c for c in out if len(c) > 1]


def cycle_path(graph, comp):
    """One closed path through the component, starting at its first member."""
    members = set(comp)
    start = comp[0]
    # Breadth-first from each successor back to start, inside the component.
    prev = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v]):
            if w not in members:
                continue
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                path.reverse()
                return path + [start]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return comp + [start]


def load_allow(path):
    """[(kind, member patterns, line)] from the allow-list: 'file A B ...' or 'folder A B ...',
    each member a path or an fnmatch pattern (src/quant/*.c), or 'edge A B' for a folder
    back-edge A -> B against --order; '#' starts a comment."""
    allow = []
    if not path:
        return allow
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].split()
            if not line:
                continue
            if line[0] not in ("file", "folder", "edge") or len(line) < 2:
                sys.exit("%s:%d: expected 'file A B ...', 'folder A B ...' or 'edge A B'"
                         % (path, n))
            allow.append((line[0], line[1:], n))
    return allow


def covers(patterns, comp):
    """Whether every member of the component matches one of the entry's patterns."""
    return all(any(fnmatch.fnmatchcase(m, p) for p in patterns) for m in comp)


def report(kind, graph, comps, allow, used):
    bad = 0
    for comp in comps:
        entry = next((a for a in allow if a[0] == kind and covers(a[1], comp)), None)
        path = cycle_path(graph, comp)
        label = "allowed (deps_allow.txt line %d)" % entry[2] if entry else "CYCLE"
        print("%s %s: %d members: %s" % (label, kind, len(comp), " ".join(comp)))
        for a, b in zip(path, path[1:]):
            print("    %s -> %s  [%s]" % (a, b, graph[a][b]))
        if entry:
            used.add(entry[2])
        else:
            bad += 1
    return bad


def check_order(fg, path, allow, used):
    """Back-edges against the layering in `path` (one folder a line, lowest first)."""
    with open(path) as f:
        order = [l.split("#", 1)[0].strip() for l in f]
        order = [o[:-3] if o.endswith("/**") else o for o in order]
    rank = {d: i for i, d in enumerate(d for d in order if d)}
    bad = 0
    for d in sorted(fg):
        if d not in rank:
            print("UNLISTED folder %s: add it to %s at its place in the layering" % (d, path))
            bad += 1
    for a in sorted(fg):
        for b, example in sorted(fg[a].items()):
            if a in rank and b in rank and rank[b] > rank[a]:
                entry = next((x for x in allow if x[0] == "edge" and x[1] == [a, b]), None)
                label = "allowed (deps_allow.txt line %d)" % entry[2] if entry else "BACK-EDGE"
                print("%s %s -> %s (listed after it)  [%s]" % (label, a, b, example))
                if entry:
                    used.add(entry[2])
                else:
                    bad += 1
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--allow", help="allow-list of known cycles")
    ap.add_argument("--order", help="folders of src/ in dependency order, lowest first")
    ap.add_argument("--print-graph", action="store_true", help="print every file edge")
    a = ap.parse_args()

    objects = find_objects(os.path.abspath(a.build), os.path.abspath(a.src))
    if not any(rel.startswith("src/") for rel in objects):
        print("deps_check: no object files of src/ under %s/CMakeFiles (build first)" % a.build)
        return 1
    if a.order:
        with open(a.order) as f:
            for line in f:
                entry = line.split("#", 1)[0].strip()
                if entry.endswith("/**"):
                    FOLDED.append(entry[:-3])
    full = file_graph(objects)
    if a.print_graph:
        for f in sorted(full):
            for d, s in sorted(full[f].items()):
                print("%s -> %s  [%s]" % (f, d, s))

    bad = 0
    # Nothing outside src/cli may reach into it.
    for f in sorted(full):
        if f.startswith("src/cli/"):
            continue
        for d, s in sorted(full[f].items()):
            if d.startswith("src/cli/"):
                print("BACK-EDGE into src/cli: %s -> %s  [%s]" % (f, d, s))
                bad += 1

    src_graph = {f: {d: s for d, s in deps.items() if d.startswith("src/")}
                 for f, deps in full.items() if f.startswith("src/")}
    allow = load_allow(a.allow)
    used = set()
    bad += report("file", src_graph, sccs(src_graph), allow, used)
    fg = folder_graph(src_graph)
    bad += report("folder", fg, sccs(fg), allow, used)
    if a.order:
        bad += check_order(fg, a.order, allow, used)
    for kind, members, n in allow:
        if n not in used:
            print("note: deps_allow.txt line %d (%s %s) matches no cycle any more: delete it"
                  % (n, kind, " ".join(members)))
    nfiles = len(src_graph)
    nedges = sum(len(d) for d in src_graph.values())
    print("deps_check: %d files, %d file edges, %d folders; %d violation(s)"
          % (nfiles, nedges, len(fg), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
