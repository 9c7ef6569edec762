#!/usr/bin/env python3
"""Runs every test suite and prints the grand total "N passed, N failed".

Suites:
  * cmocka unit tests (build/unit/test_*), then the same under ASan+UBSan
    (build/unit-asan/test_*), and test_quick and test_rules on the core
    built without SIMD (build/unit-portable/) and test_quick on the core
    with SSE2 only (build/unit-sse2/), run with TAP output and counted per
    test;
  * a bounded libFuzzer run over tests/cases (one check), and one of the
    `lbguard logs` line parser over tests/logs (one check);
  * every Python suite tests/integration/test_*.py and tests/cli/test_*.py,
    one process each: a unittest suite (a lbgtest.TestCase) through
    `python3 -m tests.lbgtest`, which counts each subTest (check) and each
    test without subTests, skips apart. A suite that
    crashes counts as failed, its output (traceback) shown.

Usage: tests/run_all.py [--build DIR] [SUBSTRING...]: only the suites whose
name contains one of the substrings. Ends with "N passed, N failed".
Exit status: 0 when nothing failed.
"""
import glob
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = os.path.abspath(sys.argv[sys.argv.index("--build") + 1]) if "--build" in sys.argv \
    else os.path.join(ROOT, "build")
only = [a for i, a in enumerate(sys.argv[1:], 1)
        if not a.startswith("--") and sys.argv[i - 1] != "--build"]

total_p = total_f = total_s = 0
summary = []


def record(name, p, f, secs, skipped=0):
    global total_p, total_f, total_s
    total_p += p
    total_f += f
    total_s += skipped
    summary.append("%-40s %4d passed, %3d failed%s  (%.1fs)"
                   % (name, p, f, ", %3d skipped" % skipped if skipped else "", secs))


def run_tap(binary, label):
    t = time.monotonic()
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP",
               ASAN_OPTIONS="detect_leaks=1:abort_on_error=1",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    r = subprocess.run([binary], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=600)
    out = r.stdout.decode("utf-8", "replace")
    sys.stdout.write(out)
    p = len(re.findall(r"(?m)^ok \d+", out))
    f = len(re.findall(r"(?m)^not ok \d+", out))
    if r.returncode != 0 and f == 0:
        f = 1  # crashed or sanitizer abort outside a test
    record(label, p, f, time.monotonic() - t)


def run_suite(path):
    t = time.monotonic()
    name = os.path.relpath(path, ROOT)
    print("=== %s" % name)
    sys.stdout.flush()
    module = os.path.splitext(name)[0].replace(os.sep, ".")
    argv = [sys.executable, "-m", "tests.lbgtest", "--build", build, module]
    r = subprocess.run(argv, cwd=ROOT, env=dict(os.environ, LBG_BUILD=build),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1200)
    out = r.stdout.decode("utf-8", "replace")
    sys.stdout.write(out)
    m = re.findall(r"(?m)^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?", out)
    if m:
        p, f, sk = int(m[-1][0]), int(m[-1][1]), int(m[-1][2] or 0)
    else:
        p, f, sk = 0, 1, 0
    if r.returncode != 0 and f == 0:
        f = 1
    record(name, p, f, time.monotonic() - t, sk)


def wanted(name):
    return not only or any(o in name for o in only)


for b in sorted(glob.glob(os.path.join(build, "unit", "test_*"))):
    if wanted("unit"):
        run_tap(b, "unit/" + os.path.basename(b))
for b in sorted(glob.glob(os.path.join(build, "unit-asan", "test_*"))):
    if wanted("asan"):
        run_tap(b, "unit-asan/" + os.path.basename(b))
# the core's portable byte checks (-DLBG_NO_SIMD), under ASan+UBSan too
for b in sorted(glob.glob(os.path.join(build, "unit-portable", "test_*"))):
    if wanted("portable"):
        run_tap(b, "unit-portable/" + os.path.basename(b))
# the 16-byte loops CPUs without AVX2 take (-DLBG_NO_AVX2), under ASan+UBSan
for b in sorted(glob.glob(os.path.join(build, "unit-sse2", "test_*"))):
    if wanted("sse2"):
        run_tap(b, "unit-sse2/" + os.path.basename(b))

fz = os.path.join(build, "fuzz", "fuzz_lbg")
if os.path.exists(fz) and wanted("fuzz"):
    t = time.monotonic()
    corpus = os.path.join(build, "fuzz", "corpus")
    os.makedirs(corpus, exist_ok=True)
    # the corpus, the raw cases and the stored regression inputs
    r = subprocess.run([fz, "-max_total_time=20", "-max_len=8192",
                        "-artifact_prefix=" + os.path.join(build, "fuzz") + "/", corpus,
                        os.path.join(ROOT, "tests", "cases"),
                        os.path.join(ROOT, "tests", "fuzz", "regress")],
                       cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1"))
    out = r.stdout.decode("utf-8", "replace")
    print("\n".join(out.splitlines()[-3:]))
    if r.returncode != 0:
        # the invariant that failed and where the input went
        print("\n".join(ln for ln in out.splitlines()
                        if ln.startswith("fuzz_lbg:") or "Test unit written" in ln))
    record("fuzz/fuzz_lbg (20 s)", 1 if r.returncode == 0 else 0,
           0 if r.returncode == 0 else 1, time.monotonic() - t)

# the access-log line parser of `lbguard logs`, seeded with tests/logs
fz = os.path.join(build, "fuzz", "fuzz_logs")
if os.path.exists(fz) and wanted("fuzz"):
    t = time.monotonic()
    corpus = os.path.join(build, "fuzz", "corpus-logs")
    os.makedirs(corpus, exist_ok=True)
    r = subprocess.run([fz, "-max_total_time=10", "-max_len=4096",
                        "-artifact_prefix=" + os.path.join(build, "fuzz") + "/", corpus,
                        os.path.join(ROOT, "tests", "logs")],
                       cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1"))
    out = r.stdout.decode("utf-8", "replace")
    print("\n".join(out.splitlines()[-3:]))
    record("fuzz/fuzz_logs (10 s)", 1 if r.returncode == 0 else 0,
           0 if r.returncode == 0 else 1, time.monotonic() - t)

for s in sorted(glob.glob(os.path.join(ROOT, "tests", "integration", "test_*.py")) +
                glob.glob(os.path.join(ROOT, "tests", "cli", "test_*.py"))):
    if wanted(os.path.basename(s)):
        run_suite(s)

print()
print("\n".join(summary))
if total_s:
    print("%d skipped (not counted: a build or tool is absent)" % total_s)
print("%d passed, %d failed" % (total_p, total_f))
sys.exit(1 if total_f else 0)
