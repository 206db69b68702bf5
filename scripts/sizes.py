#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The largest file and the largest function of each source folder, in lines: what a layout
change's note compares before and after.

  scripts/sizes.py [--rev REV] [FOLDER...]     (default: agent/'s folders and bpf/)

Files are the .c and .h files directly in a folder; a function runs from the line of its
name to its closing brace, as universal-ctags reads it (`ctags --fields=+ne`). With --rev
the files are read as they are at REV (git show), not from the working tree. Needs
universal-ctags (Debian: apt-get install universal-ctags; install-deps.sh does not
install it: no build or test needs it).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

FOLDERS = ["agent/cmd", "agent/datapath", "agent/policy", "agent/audit", "agent/metrics",
           "agent/decode", "agent/lib", "bpf"]


def files_of(folder, rev):
    if rev:
        out = subprocess.run(["git", "ls-tree", "--name-only", rev, folder + "/"],
                             capture_output=True, text=True, check=True).stdout
        names = out.split()
    else:
        names = [os.path.join(folder, n) for n in sorted(os.listdir(folder))]
    return [n for n in names if n.endswith((".c", ".h"))]


def text_of(path, rev):
    if rev:
        return subprocess.run(["git", "show", "%s:%s" % (rev, path)], capture_output=True,
                              text=True, check=True).stdout
    with open(path) as f:
        return f.read()


def functions(path, text):
    """(lines, name) of every function ctags finds in text."""
    with tempfile.NamedTemporaryFile("w", suffix=os.path.splitext(path)[1]) as t:
        t.write(text)
        t.flush()
        out = subprocess.run(["ctags", "--language-force=C", "--c-kinds=f", "--fields=+ne",
                              "-o", "-", t.name], capture_output=True, text=True,
                             check=True).stdout
    found = []
    for line in out.splitlines():
        cols = line.split("\t")
        f = dict(c.split(":", 1) for c in cols[3:] if ":" in c)
        if "line" in f and "end" in f:
            found.append((int(f["end"]) - int(f["line"]) + 1, cols[0]))
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev")
    ap.add_argument("folders", nargs="*", default=FOLDERS)
    a = ap.parse_args()
    if not shutil.which("ctags"):
        print("sizes.py: needs universal-ctags (apt-get install universal-ctags)",
              file=sys.stderr)
        return 2
    print("| folder | files | lines | largest file | largest function |")
    print("|---|---|---|---|---|")
    for d in a.folders:
        sizes, funcs = [], []
        for p in files_of(d, a.rev):
            text = text_of(p, a.rev)
            sizes.append((text.count("\n"), os.path.basename(p)))
            funcs += [(n, "%s (%s)" % (name, os.path.basename(p)))
                      for n, name in functions(p, text)]
        if not sizes:
            print("| %s | 0 | 0 | - | - |" % d)
            continue
        big, fn = max(sizes), max(funcs) if funcs else (0, "-")
        print("| %s | %d | %d | %s: %d | %s: %d |" % (d, len(sizes), sum(n for n, _ in sizes),
                                                       big[1], big[0], fn[1], fn[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
