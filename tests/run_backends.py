"""Run the test suite on both database backends at once: ``python -m tests.run_backends [ARGS]``.

SQLite and PostgreSQL (a throwaway server: ``tests/utils/databases.py``) each get a pytest of
their own, side by side: the suite mostly waits on its fakes, so two runs on two cores take
little longer than one. Each run's output is printed when it ends; the exit status is the first
failing run's, or 0.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from typing import IO

BACKENDS = ("sqlite", "postgresql")


def main(argv: list[str]) -> int:
    with contextlib.ExitStack() as stack:
        return _run(argv, stack)


def _run(argv: list[str], stack: contextlib.ExitStack) -> int:
    runs: list[tuple[str, subprocess.Popen[bytes], IO[bytes], float]] = []
    for backend in BACKENDS:
        log: IO[bytes] = stack.enter_context(
            tempfile.TemporaryFile(prefix=f"pytest-{backend}-")  # noqa: SIM115 (closed by the stack)
        )
        env = {**os.environ, "SUPPORT_BOT_TEST_BACKEND": backend}
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *argv]
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        runs.append((backend, proc, log, time.monotonic()))
    status = 0
    for backend, proc, log, started in runs:
        code = proc.wait()
        elapsed = time.monotonic() - started
        log.seek(0)
        sys.stdout.write(f"\n===== {backend}: exit {code} after {elapsed:.0f} s =====\n")
        sys.stdout.write(log.read().decode(errors="replace"))
        sys.stdout.flush()
        if code != 0 and status == 0:
            status = code
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
