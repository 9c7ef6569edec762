#!/usr/bin/env python3
"""test_core_symbols -- the core (common/) keeps its promises at link
level: it calls no allocator, no I/O, no locale-dependent function and
keeps no writable global state. Checked on build/lib/liblbg.a with nm:
every symbol the core leaves undefined must be one of its own or one of a
few pure libc functions, it defines no writable data (.data/.bss), and its
exported functions are exactly the ones its public headers declare.

Usage: python3 -m tests.integration.test_core_symbols [--build DIR] [-k NAME]
"""
import glob
import os
import re
import subprocess

from tests import lbgtest

ALLOWED_LIBC = {"memchr", "memcpy", "memmove", "memset", "memcmp", "strlen",
                "__stack_chk_fail",
                # libgcc's CPU model behind __builtin_cpu_supports("avx2")
                # (lbg_quick.c): set once by libgcc's constructor, read-only
                # afterwards; no state of the core's own
                "__cpu_model",
                # the linker's own, for the PIC access to __cpu_model
                "_GLOBAL_OFFSET_TABLE_"}

# a prototype (not a static inline definition): [type] lbg_name(...);
PROTO = re.compile(r"(?m)^[A-Za-z_][\w \t*]*?\b(lbg_[a-z0-9_]*[a-z0-9])\s*\([^;{)]*(?:\([^)]*\)[^;{)]*)*\)\s*;")


def declared(text):
    """Names of the public functions (lbg_, not lbg__) that C text declares
    by prototype; comments and static inline definitions do not count."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return {n for n in PROTO.findall(text) if not n.startswith("lbg__")}


def public_headers():
    """common/*.h but the internal ones (lbg_internal.h, *simd*)."""
    return sorted(h for h in glob.glob(os.path.join(lbgtest.ROOT, "common", "*.h"))
                  if "internal" not in os.path.basename(h)
                  and "simd" not in os.path.basename(h))


class CoreSymbols(lbgtest.TestCase):
    suite = "core-symbols"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        lib = lbgtest.require(os.path.join(cls.build, "lib", "liblbg.a"), "make core")
        out = subprocess.run(["nm", lib], stdout=subprocess.PIPE, check=True).stdout.decode()
        cls.defined, cls.undefined, cls.public = set(), set(), []
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "U":
                cls.undefined.add(parts[1])
            elif len(parts) == 3:
                cls.defined.add(parts[2])
                if parts[1] == "T" and parts[2].startswith("lbg_") \
                        and not parts[2].startswith("lbg__"):
                    cls.public.append(parts[2])
        # objdump names each symbol's section: .data and .bss are writable;
        # read-only tables of pointers sit in .data.rel.ro (read-only once
        # relocated)
        od = subprocess.run(["objdump", "-t", lib], stdout=subprocess.PIPE,
                            check=True).stdout.decode()
        cls.writable = sorted(
            ln.split()[-1] for ln in od.splitlines()
            if any(" %s\t" % sec in ln or " %s " % sec in ln for sec in (".data", ".bss"))
            and ".data.rel.ro" not in ln and "l    d" not in ln)
        cls.headers = {}
        for h in public_headers():
            with open(h, encoding="utf-8") as f:
                cls.headers[os.path.basename(h)] = f.read()

    def test_undefined(self):
        external = sorted(self.undefined - self.defined)
        self.eq("undefined symbols are pure libc functions only",
                [u for u in external if u not in ALLOWED_LIBC], [])
        self.check("no allocator is called",
                   not ({"malloc", "calloc", "realloc", "free"} & self.undefined))

    def test_writable(self):
        self.eq("no writable global data (.data, .bss)", self.writable, [])

    def test_api(self):
        protos = set()
        for text in self.headers.values():
            protos |= declared(text)
        self.eq("every exported function is declared in a public header (%s)"
                % ", ".join(sorted(self.headers)),
                sorted(f for f in set(self.public) if f not in protos), [])
        self.eq("every function the public headers declare is exported (%d)" % len(protos),
                sorted(protos - set(self.public)), [])


if __name__ == "__main__":
    lbgtest.main()
