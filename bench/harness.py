"""What the process benchmarks share (``bench/throughput.py``, ``bench/replicas.py``,
``bench/faults.py``): starting and stopping an app process, CPU seconds from /proc, and the
plumbing of a run (progress log, work folder, the command line, the JSON written)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

Json = dict[str, Any]

# ---------------------------------------------------------------------------- processes


async def wait_listening(
    proc: subprocess.Popen[bytes], port: int, timeout: float, name: str, output: Callable[[], str]
) -> None:
    """Wait until ``proc`` accepts connections on ``port``; raise if it exits first (with the
    end of ``output()``, its log) or does not listen within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited: {output()[-2000:]}")
        try:
            _r, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RuntimeError(f"{name} did not start listening")


def stop_process(proc: subprocess.Popen[Any] | None) -> None:
    """SIGTERM, then SIGKILL after 30 s."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------------- CPU accounting

TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_cpu(pid: int, *, reaped_children: bool = False) -> float:
    """CPU seconds of a process (utime + stime, all threads); with ``reaped_children``, plus
    those of its children that exited and were waited for."""
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICK


def children_cpu(parent: int) -> float:
    """CPU seconds of the live children of ``parent``."""
    total = 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields(int(entry.name))
        except OSError:
            continue
        if int(fields[1]) == parent:
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal
    return (total - idle) / TICK, total / TICK


def self_cpu() -> float:
    t = os.times()
    return t.user + t.system


def peak_rss_mb(pid: int) -> float:
    """The process's VmHWM (its peak resident set) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------------------- a run


def progress_log(began: float, width: int = 6, enabled: bool = True) -> Callable[[str], None]:
    """A progress line on stderr (unless not ``enabled``), stamped with the seconds since
    ``began`` (monotonic)."""

    def log(text: str) -> None:
        if enabled:
            print(f"[{time.monotonic() - began:{width}.1f}s] {text}", file=sys.stderr, flush=True)

    return log


def work_folder(stack: contextlib.ExitStack, workdir: Path | None, prefix: str) -> Path:
    """``workdir`` (created if needed), or a temporary folder removed when ``stack`` closes."""
    if workdir is None:
        return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=prefix)))
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


def result_head(command: str, cfg: object, machine: Json, code: Json) -> Json:
    """The first fields of a bench's results: how it was run, with which settings (a config
    dataclass's fields, paths as strings), on which machine, measuring which code."""
    return {
        "command": command,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(cfg).items()},
        "machine": machine,
        "code": code,
    }


def bench_command(module: str, argv: Sequence[str] | None) -> str:
    """The command line that reruns this bench, as recorded in its results."""
    return shlex.join(
        [".venv/bin/python", "-m", module, *(argv if argv is not None else sys.argv[1:])]
    )


def write_json(out: Path, data: object) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def run_bench(
    module: str,
    argv: Sequence[str] | None,
    what: str,
    run: Callable[[str], Coroutine[Any, Any, Json]],
    describe: Callable[[Json], str],
    out: Path,
) -> int:
    """A bench's ``main`` once its arguments are parsed: ``run(command)``, print its table
    (``describe``) and write its results to ``out``. Exit status 2 when it could not complete."""
    command = bench_command(module, argv)
    try:
        result = asyncio.run(run(command))
    except RuntimeError as exc:
        print(f"the {what} run could not complete: {exc}", file=sys.stderr)
        return 2
    print(describe(result))
    write_json(out, result)
    print(f"written to {out}")
    return 0
