#!/usr/bin/env python3
"""The order of kubetrail's functions in its binary (issue 14 §2; docs/BENCHMARKS.md).

`kubetrail run` keeps its code resident as it runs it, and the kernel maps code in blocks of
64 KiB: when the few MiB of functions `run` executes are spread over the 28 MB of text, it
keeps most of the text resident. The linker places the functions named in
`crates/kubetrail/code-order.txt` first, in that order (lld's `--symbol-ordering-file`, set
for release builds by `crates/kubetrail/build.rs`), so what `run` executes lies together.

This script writes that file from callgrind profiles of `run` (see `scripts/code-order.sh`,
which records them): every function of the kubetrail binary that ran, those that ran often
(per event or per batch: at least `--hot-calls` calls) first, each group by its own
instructions, most first. The symbols are the linker's (mangled) names.
"""

import argparse
import collections
import re
import sys

# `'2` marks a recursion level (callgrind's --separate-recs); the symbol is the same.
RECURSION = re.compile(r"'\d+$")


def read_profile(path, binary, calls, cost):
    """Adds the functions of `binary` in one callgrind output (written with
    --compress-strings=no --compress-pos=no) to `calls` and `cost`."""
    ob = cob = fn = cfn = None
    after_calls = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            head, _, value = line.partition("=")
            if head == "ob":
                ob = value
            elif head == "fn":
                fn = RECURSION.sub("", value)
                cob = None
            elif head == "cob":
                cob = value
            elif head == "cfn":
                cfn = RECURSION.sub("", value)
            elif head == "calls":
                count = int(value.split()[0])
                if (cob or ob) == binary:
                    calls[cfn] += count
                after_calls = True
            elif line[0].isdigit() or line[0] in "+-*":
                if after_calls:
                    # The inclusive cost of the call just named, not this function's own.
                    after_calls = False
                    cob = None
                elif ob == binary and fn is not None:
                    parts = line.split()
                    cost[fn] += int(parts[1]) if len(parts) > 1 else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", help="the profiled binary's path, as callgrind names it (ob=)")
    parser.add_argument("profiles", nargs="+", help="callgrind.out files")
    parser.add_argument("--hot-calls", type=int, default=100)
    args = parser.parse_args()
    calls = collections.Counter()
    cost = collections.Counter()
    for path in args.profiles:
        read_profile(path, args.binary, calls, cost)
    names = [n for n in cost.keys() | calls.keys() if n and not n.startswith("0x")]
    if not names:
        sys.exit(f"no function of {args.binary} in the profiles")
    hot = sorted((n for n in names if calls[n] >= args.hot_calls), key=lambda n: (-cost[n], n))
    cold = sorted((n for n in names if calls[n] < args.hot_calls), key=lambda n: (-cost[n], n))
    for name in hot + cold:
        print(name)
    print(f"{len(hot)} hot and {len(cold)} other functions", file=sys.stderr)


if __name__ == "__main__":
    main()
