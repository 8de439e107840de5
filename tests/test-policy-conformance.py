#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The qrexec policy conformance cases (tests/policy-conformance/policy_cases.json,
each checked against the Qubes reference engine) through the built
`qubes-policy eval`.

For every case: write its policy files into a fresh directory and its system
info into a file, run the CLI, and compare the exit status (0 allow, 1 deny,
3 ask, 2 policy error) and the key=value lines that matter for the expected
outcome.  Prints one line per failing case and `N passed, M failed`.

Case ids listed in tests/policy-conformance/known-failures.txt (one per line,
`#` comments) are expected to fail: they are reported loudly but do not fail
the test; one of them passing is reported too, so the list gets trimmed.
"""
import json
import os
import subprocess
import sys
import tempfile

SRCDIR = os.environ.get("ODYSSEY_SRCDIR") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILDDIR = os.environ.get("ODYSSEY_BUILDDIR") or os.getcwd()
DATA = os.path.join(SRCDIR, "tests", "policy-conformance")
CLI = os.path.join(BUILDDIR, "client", "qubes-policy")
EXIT_FOR = {"allow": 0, "deny": 1, "ask": 3, "error": 2}


def answer_lines(text):
    lines = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            lines[key] = value
    return lines


def run_case(case, workdir):
    policy_dir = os.path.join(workdir, "policy.d")
    os.makedirs(policy_dir)
    for relative, text in case["policy"].items():
        path = os.path.join(policy_dir, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", newline="") as f:
            f.write(text)
    system_info = os.path.join(workdir, "system.json")
    with open(system_info, "w") as f:
        json.dump(case["system"], f)

    req = case["request"]
    argv = [CLI, "eval", "--policy-dir", policy_dir, "--system-info", system_info]
    if req.get("assume_yes_for_ask"):
        argv.append("--assume-yes-for-ask")
    if req.get("just_evaluate"):
        argv.append("--just-evaluate")
    argv += ["--", req["source"], req["target"], req["service_and_arg"]]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    return check(case["expect"], proc, policy_dir)


def check(want, proc, policy_dir):
    """None when the answer is the expected one, else what differs."""
    result = want["result"]
    if proc.returncode != EXIT_FOR[result]:
        return "exit %d, expected %d (%s); stdout %r stderr %r" % (
            proc.returncode, EXIT_FOR[result], result, proc.stdout[:200], proc.stderr[:200])
    if result == "error":
        first = (proc.stderr.splitlines() or [""])[0]
        where = os.path.join(policy_dir, want["file"])
        if want.get("line") is not None:
            where += ":%d:" % want["line"]
        if where not in first:
            return "first error %r does not name %s" % (first, where)
        return None
    got = answer_lines(proc.stdout)
    if got.get("result") != result:
        return "result=%r, expected %r" % (got.get("result"), result)
    if result == "allow":
        expected = {"target": want["target"], "user": want["user"],
                    "autostart": "True" if want["autostart"] else "False"}
        for key, value in expected.items():
            if got.get(key) != value:
                return "%s=%r, expected %r" % (key, got.get(key), value)
        if "requested_target" not in got:
            return "no requested_target= line"
    elif result == "ask":
        targets = got.get("targets", "").split()
        if targets != sorted(want["targets"]):
            return "targets=%r, expected %r (sorted)" % (targets, sorted(want["targets"]))
        default = got.get("default_target", "") or None
        if default != want.get("default_target"):
            return "default_target=%r, expected %r" % (default, want.get("default_target"))
    elif set(got) != {"result"}:
        return "deny carries more than result=: %r" % proc.stdout
    return None


def main():
    if not os.access(CLI, os.X_OK):
        print("qubes-policy not built at %s" % CLI)
        return 1
    with open(os.path.join(DATA, "policy_cases.json")) as f:
        cases = json.load(f)
    known = set()
    known_path = os.path.join(DATA, "known-failures.txt")
    if os.path.exists(known_path):
        with open(known_path) as f:
            known = {l.split("#")[0].strip() for l in f} - {""}

    passed = failed = expected_failures = 0
    for case in cases:
        with tempfile.TemporaryDirectory() as workdir:
            why = run_case(case, workdir)
        if why is None:
            passed += 1
            if case["id"] in known:
                print("UNEXPECTED PASS %s: remove it from known-failures.txt" % case["id"])
        elif case["id"] in known:
            expected_failures += 1
            print("KNOWN FAILURE %s (%s): %s" % (case["id"], case.get("source_ref", ""), why))
        else:
            failed += 1
            print("FAIL %s (%s): %s" % (case["id"], case.get("source_ref", ""), why))
    print("%d passed, %d failed" % (passed, failed + expected_failures))
    if expected_failures:
        print("!!! %d of the failures are KNOWN FAILURES listed in %s !!!" % (expected_failures, known_path))
    if len(cases) < 50:
        print("too few cases (%d): the data file is damaged" % len(cases))
        return 1
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
