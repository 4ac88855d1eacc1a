#!/usr/bin/env python3
"""Tests of scripts/code_order.py: run by scripts/test.sh (`python3 scripts/code_order_test.py`)."""

import collections
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import code_order  # noqa: E402

BIN = "/tmp/x/kubetrail-run"

# Two callgrind outputs as valgrind 3.19 writes them with --compress-strings=no
# --compress-pos=no: per function its own cost lines, then per call the callee, the count, and
# the call's inclusive cost (not the caller's own).
FIRST = f"""# callgrind format
version: 1
creator: callgrind-3.19.0
events: Ir
ob={BIN}
fl=src/main.rs
fn=_ZN9kubetrail4main17h0000000000000001E
10 5
cfn=_ZN9kubetrail5store5write17h0000000000000002E
calls=200 20
10 900000
cob=/usr/lib/x86_64-linux-gnu/libc.so.6
cfi=???
cfn=memcpy
calls=7 0
11 70

fn=_ZN9kubetrail5store5write17h0000000000000002E
20 4000
cfn=_ZN9kubetrail5store5write17h0000000000000002E'2
calls=50 20
20 100

fn=_ZN9kubetrail5store5write17h0000000000000002E'2
20 100

ob=/usr/lib/x86_64-linux-gnu/libc.so.6
fl=???
fn=memcpy
0 70
"""

SECOND = f"""# callgrind format
events: Ir
ob={BIN}
fl=src/config.rs
fn=_ZN9kubetrail6config4load17h0000000000000003E
+3 8000
fn=0x00000000012345
0 3
"""


class ReadProfile(unittest.TestCase):
    def read(self, *texts):
        calls, cost = collections.Counter(), collections.Counter()
        with tempfile.TemporaryDirectory() as d:
            for i, text in enumerate(texts):
                path = os.path.join(d, f"callgrind.{i}")
                with open(path, "w") as f:
                    f.write(text)
                code_order.read_profile(path, BIN, calls, cost)
        return calls, cost

    def test_own_cost_excludes_the_inclusive_cost_of_calls(self):
        _, cost = self.read(FIRST)
        self.assertEqual(cost["_ZN9kubetrail4main17h0000000000000001E"], 5)

    def test_recursion_levels_are_one_symbol(self):
        calls, cost = self.read(FIRST)
        write = "_ZN9kubetrail5store5write17h0000000000000002E"
        self.assertEqual(cost[write], 4100)
        self.assertEqual(calls[write], 250)

    def test_other_objects_are_left_out(self):
        calls, cost = self.read(FIRST)
        self.assertNotIn("memcpy", cost)
        self.assertNotIn("memcpy", calls)

    def test_profiles_add_up(self):
        _, cost = self.read(FIRST, SECOND)
        self.assertEqual(cost["_ZN9kubetrail6config4load17h0000000000000003E"], 8000)


class Order(unittest.TestCase):
    def test_hot_functions_first_then_the_rest_by_cost_without_addresses(self):
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for i, text in enumerate((FIRST, SECOND)):
                paths.append(os.path.join(d, f"callgrind.{i}"))
                with open(paths[-1], "w") as f:
                    f.write(text)
            out = subprocess.run(
                [sys.executable, code_order.__file__, BIN, *paths, "--hot-calls", "100"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
        self.assertEqual(
            out,
            [
                "_ZN9kubetrail5store5write17h0000000000000002E",
                "_ZN9kubetrail6config4load17h0000000000000003E",
                "_ZN9kubetrail4main17h0000000000000001E",
            ],
        )


if __name__ == "__main__":
    unittest.main()
