"""Progress on the command line, for work that takes a while."""

from __future__ import annotations

import sys
from typing import TextIO

# Shorter work finishes before a bar would help.
PROGRESS_MIN_FILES = 20


class ProgressBar:
    """A one-line bar on a terminal; silent when output is piped or the work is short."""

    def __init__(self, stream: TextIO = sys.stderr, unit: str = "files") -> None:
        self.stream = stream
        self.unit = unit
        self.shown = False

    def __call__(self, done: int, total: int | None) -> None:
        """``total`` None: not known yet (a crawl finds its pages as it goes)."""
        if not self.stream.isatty():
            return
        if total is None:
            self.stream.write(f"\r{done} {self.unit}")
            self.stream.flush()
            self.shown = True
            return
        if total < PROGRESS_MIN_FILES:
            return
        width = 30
        filled = width * done // total
        self.stream.write(f"\r[{'#' * filled}{' ' * (width - filled)}] {done}/{total} {self.unit}")
        self.stream.flush()
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            self.stream.write("\n")
