#!/usr/bin/env python3
"""The core (common/) keeps its promises at link level: it calls no
allocator, no I/O, no locale-dependent function and keeps no writable
global state. Checked on build/lib/liblbg.a with nm: every symbol the core
leaves undefined must be one of its own or one of a few pure libc
functions, and it defines no writable data (.data/.bss)."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbgtest  # noqa: E402

res = lbgtest.Results("core-symbols")
lib = os.path.join(lbgtest.build_dir(), "lib", "liblbg.a")
ALLOWED_LIBC = {"memchr", "memcpy", "memmove", "memset", "memcmp", "strlen",
                "__stack_chk_fail",
                # libgcc's CPU model behind __builtin_cpu_supports("avx2")
                # (lbg_quick.c): set once by libgcc's constructor, read-only
                # afterwards; no state of the core's own
                "__cpu_model",
                # the linker's own, for the PIC access to __cpu_model
                "_GLOBAL_OFFSET_TABLE_"}

if not res.check("build/lib/liblbg.a exists (make core)", os.path.exists(lib)):
    sys.exit(res.summary())

out = subprocess.run(["nm", lib], stdout=subprocess.PIPE, check=True).stdout.decode()
defined, undefined, public = set(), set(), []
for line in out.splitlines():
    parts = line.split()
    if len(parts) == 2 and parts[0] == "U":
        undefined.add(parts[1])
    elif len(parts) == 3:
        defined.add(parts[2])
        if parts[1] == "T" and parts[2].startswith("lbg_") and not parts[2].startswith("lbg__"):
            public.append(parts[2])

# objdump names each symbol's section: .data and .bss are writable; read-only
# tables of pointers sit in .data.rel.ro (read-only once relocated)
od = subprocess.run(["objdump", "-t", lib], stdout=subprocess.PIPE, check=True).stdout.decode()
writable = sorted(l.split()[-1] for l in od.splitlines()
                  if any(" %s\t" % sec in l or " %s " % sec in l for sec in (".data", ".bss"))
                  and ".data.rel.ro" not in l and "l    d" not in l)

external = sorted(u for u in undefined - defined)
res.eq("undefined symbols are pure libc functions only",
       [u for u in external if u not in ALLOWED_LIBC], [])
res.check("no allocator is called", not ({"malloc", "calloc", "realloc", "free"} & undefined))
res.eq("no writable global data (.data, .bss)", writable, [])
# The public API: the out-of-line functions that the public headers declare
# (prototypes ending in ';'; inline definitions have bodies, not symbols).
# What liblbg.a exports under lbg_ and what they declare must be one set.
PUBLIC_HEADERS = ("lbg.h", "lbg_quick.h", "lbg_raw.h")


def declared_functions(text):
    """Names of the lbg_ functions text declares, comments removed."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return {m.group(1) for m in re.finditer(r"\b(lbg_[a-z0-9_]+)\s*\(([^;{]*?)\)\s*;", text)
            if not m.group(1).startswith("lbg__")}


declared = set()
for h in PUBLIC_HEADERS:
    declared |= declared_functions(open(os.path.join(lbgtest.ROOT, "common", h)).read())
res.eq("every exported lbg_ function is declared in a public header",
       sorted(set(public) - declared), [])
res.eq("every function a public header declares is exported by liblbg.a",
       sorted(declared - set(public)), [])
sys.exit(res.summary())
