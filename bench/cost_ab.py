"""CPU per 1,000 questions, before and after: two checkouts and the bare app, side by side.

Run from the repository root (a benchmark, not a test)::

    .venv/bin/python -m bench.cost_ab --before PATH [--after PATH] [--rounds 3]
                                      [--chunks 100000] [--tickets 1000] [--out PATH]

``bench/throughput.py``'s cost phase (1,000 questions at 20/s, CPU seconds from /proc) for three
apps at once: the bot from the checkout at ``--before`` (``git worktree add PATH REV`` makes
one), the bot from this checkout (or from ``--after``), and the bare Bolt app. All three run side
by side, each sent its own questions at the same moments, so a slow spell of the machine (one-app
runs here move by ±10% from run to run) falls on all of them alike; each round gives its own
ratios. The bots start from copies of one knowledge base of ``--chunks`` chunks and first answer
``--tickets`` questions. It prints each round and the means, and writes the JSON to
``bench/results/cost-ab.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from bench import datasets as ds
from bench import throughput as tp
from bench.retrieval import code_under_test
from tests.utils.process import free_port

VARIANTS = ("before", "after", "bare")


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    began = time.monotonic()
    figures: dict[str, list[float]] = {v: [] for v in VARIANTS}
    texts = unique = ds.replied_questions(tp.EVAL_DATA, 4000)  # each gets a reply
    with tempfile.TemporaryDirectory(prefix="cost-ab-") as tmp:
        workdir = Path(tmp)
        kb = workdir / "kb.db"
        knowledge = await asyncio.to_thread(tp.prepare_knowledge, kb, args.chunks)
        fakes = tp.Fakes()
        await fakes.start()
        apps: dict[str, tuple[tp.AppProcess, Path, tp.AppKind]] = {}
        timeout = aiohttp.ClientTimeout(total=10)
        connector = aiohttp.TCPConnector(limit=256)
        try:
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                customers: dict[str, tp.Customers] = {}
                for variant in VARIANTS:
                    kind: tp.AppKind = "bare" if variant == "bare" else "bot"
                    folder = workdir / variant
                    folder.mkdir()
                    if kind == "bot":
                        shutil.copy(kb, folder / "bot.db")
                    code = {"before": args.before, "after": args.after}.get(variant)
                    code = code.resolve() if code is not None else None
                    port = free_port()
                    env = tp.app_env(kind, folder, fakes, port, code)
                    app = tp.AppProcess(kind, env, folder, code)
                    await app.start(port)
                    apps[variant] = (app, folder, kind)
                    url = f"http://127.0.0.1:{port}/slack/events"
                    customers[variant] = tp.Customers(url, texts, session)
                    # Warm-up and fill, one app at a time: caches, connections, tickets.
                    await customers[variant].offer(args.tickets, tp.BenchConfig.fill_rate)
                    await tp.settle(kind, folder)
                    print(f"{variant}: started and filled", flush=True)
                for round_ in range(args.rounds):
                    before = {v: apps[v][0].cpu_seconds() for v in VARIANTS}
                    await asyncio.gather(
                        *(customers[v].offer(args.questions, args.rate, unique) for v in VARIANTS)
                    )
                    for v in VARIANTS:
                        await tp.settle(apps[v][2], apps[v][1])
                    for v in VARIANTS:
                        cpu = apps[v][0].cpu_seconds() - before[v]
                        figures[v].append(1000 * cpu / args.questions)
                    print(
                        f"round {round_ + 1}: "
                        + "  ".join(f"{v} {figures[v][-1]:.2f}" for v in VARIANTS)
                        + " CPU s / 1,000",
                        flush=True,
                    )
        finally:
            for app, _, _ in apps.values():
                app.stop()
            await fakes.stop()
    means = {v: statistics.mean(xs) for v, xs in figures.items()}
    per_round = {
        v: [x / b for x, b in zip(figures[v], figures["bare"], strict=True)]
        for v in ("before", "after")
    }
    return {
        "command": " ".join([".venv/bin/python", "-m", "bench.cost_ab", *sys.argv[1:]]),
        "before": str(args.before),
        "before_commit": _commit_of(args.before),
        "after": str(args.after or "this checkout"),
        "code": code_under_test(),
        "machine": tp.machine(),
        "knowledge": knowledge,
        "questions_per_round": args.questions,
        "rate_per_s": args.rate,
        "cpu_s_per_1000": figures,
        "mean_cpu_s_per_1000": means,
        "ratio_to_bare_per_round": per_round,
        "ratio_to_bare_of_means": {v: means[v] / means["bare"] for v in ("before", "after")},
        "wall_s": time.monotonic() - began,
    }


def _commit_of(checkout: Path) -> str | None:
    """The commit a ``git worktree`` checkout stands at, if it is one."""
    try:
        done = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def describe(result: dict[str, Any]) -> str:
    lines = ["variant  CPU s / 1,000 (each round)        mean   / bare"]
    means = result["mean_cpu_s_per_1000"]
    for v in VARIANTS:
        rounds = " ".join(f"{x:6.2f}" for x in result["cpu_s_per_1000"][v])
        ratio = means[v] / means["bare"]
        lines.append(f"{v:8s} {rounds:32s} {means[v]:6.2f} {ratio:5.2f}x")
    for v in ("before", "after"):
        each = ", ".join(f"{r:.2f}x" for r in result["ratio_to_bare_per_round"][v])
        lines.append(f"{v} / bare, per round: {each}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cost_ab", description=__doc__)
    parser.add_argument("--before", type=Path, required=True, help="checkout to compare with")
    parser.add_argument("--after", type=Path, default=None, help="default: this checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--tickets", type=int, default=1_000, help="questions before the cost")
    parser.add_argument("--questions", type=int, default=1_000, help="per app and round")
    parser.add_argument("--rate", type=float, default=20.0, help="questions/s to each app")
    parser.add_argument("--out", type=Path, default=tp.RESULTS / "cost-ab.json")
    args = parser.parse_args(argv)
    for checkout in (args.before, args.after):
        if checkout is not None and not (checkout / "bot" / "__main__.py").is_file():
            parser.error(f"{checkout} is not a checkout of this bot (no bot/__main__.py)")
    result = asyncio.run(measure(args))
    print(describe(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
