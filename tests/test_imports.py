"""Every module imports on its own: no import cycle breaks whichever module comes first."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# One fresh interpreter; before each module, every flowdeck module is forgotten, so that module is
# the first of flowdeck's to load (third-party packages stay loaded: cycles are flowdeck's own).
SCRIPT = textwrap.dedent(
    """
    import importlib, pkgutil, sys, traceback
    import flowdeck, predict_backend

    names = sorted(
        info.name
        for package in (flowdeck, predict_backend)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
        if ".migrations." not in info.name and not info.name.endswith("__main__")
    )
    failed = []
    for name in ["flowdeck", "predict_backend", *names]:
        for loaded in [m for m in sys.modules if m.split(".")[0] in ("flowdeck", "predict_backend")]:
            del sys.modules[loaded]
        try:
            importlib.import_module(name)
        except Exception:
            failed.append(name + ": " + traceback.format_exc(limit=-1).strip().splitlines()[-1])
    print(len(names))
    print("\\n".join(failed))
    """
)


def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    count, *failed = done.stdout.strip().splitlines()
    assert int(count) > 50  # the walk found the package's modules
    assert failed == []
