# SPDX-License-Identifier: Apache-2.0
"""What the CLI tests written in Python share (test_policy_store.py, test_trace.py,
test_pcap.py): the kgate binary under test (KGATE, default build/kgate), running it, and
the checks with their counts. Each test script imports it from its own folder."""
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KGATE = os.path.abspath(os.environ.get("KGATE", os.path.join(ROOT, "build", "kgate")))
passed = failed = 0


def kgate(*args, stdin=None, env=None):
    """(exit code, stdout, stderr) of kgate ARGS; env: the environment (default this one)."""
    p = subprocess.run([KGATE, *args], capture_output=True, text=True, env=env, input=stdin)
    return p.returncode, p.stdout, p.stderr


def check(name, cond, detail=""):
    """One check: counted; a failure printed with its detail on stderr."""
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: %s\n  | %s" % (name, str(detail).replace("\n", "\n  | ")), file=sys.stderr)


def summary(label):
    """Prints 'LABEL: N passed, M failed' and returns the exit status (1 on a failure)."""
    print("%s: %d passed, %d failed" % (label, passed, failed))
    return 1 if failed else 0
