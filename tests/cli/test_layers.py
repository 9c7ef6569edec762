#!/usr/bin/env python3
"""The CLI's layering (issue 11 item 5): no file of cli/ calls a file above it.

Each cli/*.c is compiled to an object (cc -c, into build/itest/cli_layers);
`nm` gives the symbols each defines and the ones it leaves undefined; a call
from file A to file B is an undefined symbol of A that B defines. Every edge
must go down the layer table below (main -> subcommands -> shared layers ->
json), so call cycles cannot come back; a new cli/*.c must be given a layer
here.

Usage: python3 -m tests.cli.test_layers [--build DIR]
"""
import glob
import os
import subprocess

from tests import lbgtest

ROOT = lbgtest.ROOT

# file (without .c) -> layer; calls go to a strictly higher number
LAYERS = {
    "lbguard_main": 0,
    "lbguard_check": 1, "lbguard_probe": 1, "lbguard_rules": 1,
    "lbguard_logs": 1,
    "lbguard_fetch": 2,
    "lbguard_net": 3, "lbguard_report": 3, "lbguard_logs_parse": 3,
    "lbguard_util": 4,
    "lbguard_json": 5,
}


def symbols(obj):
    out = subprocess.run(["nm", obj], stdout=subprocess.PIPE, check=True,
                         universal_newlines=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in "TDRB":
            defined.add(f[2])
        elif len(f) == 2 and f[0] == "U":
            undefined.add(f[1])
    return defined, undefined


class Layers(lbgtest.TestCase):
    suite = "cli_layers"

    def test_layers(self):
        work = self.workdir("cli_layers")
        srcs = sorted(glob.glob(os.path.join(ROOT, "cli", "*.c")))
        self.check("cli/ has sources", len(srcs) > 5, str(srcs))
        defs, undefs = {}, {}
        for s in srcs:
            name = os.path.basename(s)[:-2]
            self.check("%s.c has a layer" % name, name in LAYERS)
            obj = os.path.join(work, name + ".o")
            r = subprocess.run([os.environ.get("CC", "cc"), "-std=c99",
                                "-D_POSIX_C_SOURCE=200809L", "-O0",
                                "-I" + os.path.join(ROOT, "common"),
                                "-I" + os.path.join(ROOT, "cli"), "-c", s,
                                "-o", obj], stderr=subprocess.PIPE,
                               universal_newlines=True)
            if not self.check("%s.c compiles" % name, r.returncode == 0,
                              r.stderr):
                continue
            defs[name], undefs[name] = symbols(obj)

        edges = 0
        for a in sorted(defs):
            for b in sorted(defs):
                if a == b:
                    continue
                calls = sorted(undefs[a] & defs[b])
                if not calls:
                    continue
                edges += 1
                self.check("%s -> %s goes down (%s)" % (a, b, ", ".join(calls)),
                           LAYERS.get(a, -1) < LAYERS.get(b, -1),
                           "layer %s calls layer %s" % (LAYERS.get(a),
                                                        LAYERS.get(b)))
        # main reaches every subcommand; the subcommands reach the shared layers
        self.check("main calls into the subcommands and they into the layers",
                   edges >= 10, "only %d edges" % edges)


if __name__ == "__main__":
    lbgtest.main()
