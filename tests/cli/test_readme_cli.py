#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""README's CLI synopsis against the binary: every option a synopsis line of README.md's
"## CLI" block names must be one that command's --help lists, spelled with the same
value name (`--duration SECONDS`, not `--duration S`), and every command the binary has
must have a synopsis there. Run with KGATE=build/kgate from the repository."""
import os
import re
import subprocess
import sys

KGATE = os.environ.get("KGATE", "build/kgate")
fails = []


def help_options(cmd):
    """{"--name": "METAVAR" or ""} and {"-o": "--output"} from `kgate CMD --help`."""
    out = subprocess.run([KGATE] + cmd.split() + ["--help"], capture_output=True, text=True,
                         check=True).stdout
    longs, shorts = {}, {}
    for line in out.split("\nOptions:\n", 1)[-1].splitlines():
        m = re.match(r"^  (?:-(\w), )?\s*(--[a-z][a-z0-9-]*)(?: (\S+))?", line)
        if m:
            longs[m.group(2)] = m.group(3) or ""
            if m.group(1):
                shorts["-" + m.group(1)] = m.group(2)
    return longs, shorts


def commands():
    """Every command and subcommand the binary lists: "run", "policy apply"..."""
    out = subprocess.run([KGATE, "--help"], capture_output=True, text=True).stdout
    names = re.findall(r"^  ([a-z]+) ", out, re.M)
    cmds = []
    for n in names:
        if n == "help":
            continue
        sub = subprocess.run([KGATE, n, "--help"], capture_output=True, text=True).stdout
        subs = re.findall(r"^  ([a-z]+) ", sub.split("\nSubcommands:\n", 1)[1], re.M) \
            if "\nSubcommands:\n" in sub else []
        cmds += ["%s %s" % (n, s) for s in subs] or [n]
    return cmds


def synopses():
    """[(command, synopsis text)] from the code block after "## CLI"."""
    text = open("README.md").read().split("\n## CLI\n", 1)[1]
    block = text.split("```\n", 2)[1]
    known = commands()
    entries = []
    for line in block.splitlines():
        head = re.match(r"^kgate ((?:[a-z]+ ?)+)", line)
        if head:
            words = head.group(1).split()
            cmd = " ".join(words[:2]) if " ".join(words[:2]) in known else words[0]
            # the text after three spaces is what it does, not its synopsis
            entries.append([cmd, re.split(r"\s{3,}", line[len("kgate " + cmd):].strip())[0]])
        elif entries and re.match(r"^\s+[\[(-]", line):
            entries[-1][1] += " " + re.split(r"\s{3,}", line.strip())[0]
    return entries, known


entries, known = synopses()
for cmd in known:
    if cmd not in [c for c, _ in entries]:
        fails.append("%s: no synopsis in README's CLI block" % cmd)
for cmd, syn in entries:
    longs, shorts = help_options(cmd)
    for m in re.finditer(r"(?<![\w-])(--?[a-z][a-z0-9-]*)(?: ([^\s\[\]()|-][^\s\[\]()]*))?", syn):
        # a value ends where an alternative option begins: P|--sasl-user
        opt, meta = m.group(1), (m.group(2) or "").split("|-")[0].rstrip("])")
        if opt in shorts:
            opt = shorts[opt]
        if opt not in longs:
            fails.append("%s: README names %s, which --help does not" % (cmd, opt))
        elif longs[opt] != meta and not (longs[opt] == "" and meta == ""):
            fails.append("%s: README says %s %s, --help says %s %s" % (cmd, opt, meta, opt,
                                                                      longs[opt]))
for f in fails:
    print("FAIL: " + f, file=sys.stderr)
print("readme cli: %d synopses, %d failed" % (len(entries), len(fails)))
sys.exit(1 if fails else 0)
