#!/usr/bin/env python3
"""Check the direction of knowledge from the sources: tools -> capi -> host modules -> runtime.

Every `#include "X"` in runtime/, host/<module>/ and capi/ is resolved against the project's
header folders; an include of a header that belongs to a module the including module may not
use fails the check (one line per offending include). CMake enforces the same at compile time
through each module's include directories (host/CMakeLists.txt); this check also catches a
header that happens to be reachable through a wider include path.

Usage: check_layers.py SOURCE_DIR
"""
import pathlib
import re
import sys

# module -> modules whose headers it may include (itself always). "runtime:error" is runtime/error.h alone.
ALLOWED = {
    "runtime": set(),
    "format": {"runtime:error"},
    "model": {"format", "runtime:error"},
    "text": {"format", "runtime:error"},
    "reference": {"model", "format", "runtime:error"},
    "engine": {"model", "text", "format", "runtime"},
    "media": {"runtime:error"},
    "devtools": {"text", "model", "format", "runtime:error"},
    "capi": {"engine", "media", "text", "model", "format", "runtime"},
}
HOST_MODULES = ["format", "model", "text", "reference", "engine", "media", "devtools"]


def module_dirs(root: pathlib.Path) -> dict:
    dirs = {"runtime": root / "runtime", "capi": root / "capi"}
    for m in HOST_MODULES:
        dirs[m] = root / "host" / m
    return dirs


def main() -> int:
    root = pathlib.Path(sys.argv[1]).resolve()
    dirs = module_dirs(root)
    missing = [m for m, d in dirs.items() if not d.is_dir()]
    if missing:
        print(f"missing module folders: {missing}")
        return 1
    stray = sorted(p.name for p in (root / "host").glob("*.[ch]*") if p.suffix in (".h", ".cpp"))
    if stray:
        print(f"host/ has sources outside a module folder: {stray}")
        return 1
    owner = {}  # header file name -> module
    for m, d in dirs.items():
        for h in d.glob("*.h"):
            if h.name in owner:
                print(f"header name {h.name} exists in both {owner[h.name]} and {m}")
                return 1
            owner[h.name] = m
    inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
    bad, checked = [], 0
    for m, d in dirs.items():
        for f in sorted(list(d.glob("*.h")) + list(d.glob("*.cpp"))):
            for name in inc.findall(f.read_text(encoding="utf-8")):
                target = owner.get(pathlib.PurePath(name).name)
                if target is None or target == m:
                    continue
                checked += 1
                ok = target in ALLOWED[m] or (target == "runtime" and name == "error.h" and "runtime:error" in ALLOWED[m])
                if not ok:
                    bad.append(f"{f.relative_to(root)}: includes {name} ({target}); {m} may use {sorted(ALLOWED[m]) or 'nothing'}")
    # runtime/ reads no environment variable and writes nothing to stderr/stdout (settings come in
    # through Instance::Options / DeviceOptions, messages go to the log sink, runtime/log.h); host/
    # reads the environment in engine/environment.cpp alone.
    io = re.compile(r'\b(getenv|secure_getenv)\s*\(|\bstderr\b|\bstd::cerr\b|\bstd::cout\b|\bstd::clog\b|(?<![sn])printf\s*\(|\bputs\s*\(')
    for m in ["runtime"] + HOST_MODULES:
        for f in sorted(list(dirs[m].glob("*.h")) + list(dirs[m].glob("*.cpp"))):
            if f.name == "environment.cpp" and m == "engine":
                continue
            for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("//")[0]
                if io.search(code):
                    bad.append(f"{f.relative_to(root)}:{n}: reads the environment or writes to a standard stream: {line.strip()}")
    for b in bad:
        print(b)
    print(f"{checked} cross-module includes checked, {len(bad)} against the direction")
    return 1 if bad or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
