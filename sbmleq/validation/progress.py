"""Progress of a batch on stderr: a rich progress bar on a terminal, else a line every ~30 s.

rich is imported when a reporter is made (it is only needed while a batch runs).
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["ProgressReporter"]


class ProgressReporter:
    """A rich progress bar on a terminal; a line every ~30 s (or 25 models) otherwise."""

    def __init__(self, total: int, done: int, enabled: bool):
        from rich.console import Console

        self.console = Console(stderr=True, soft_wrap=True)
        self.total, self.done = total, done
        self.counts: dict[str, int] = {}
        self.enabled = enabled
        self.live = enabled and self.console.is_terminal
        self._last_line = time.monotonic()
        self._since = 0
        self.progress = None
        if self.live:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)

            self.progress = Progress(SpinnerColumn(), TextColumn("validate"), BarColumn(),
                                     MofNCompleteColumn(), TimeElapsedColumn(),
                                     TextColumn("eta"), TimeRemainingColumn(),
                                     TextColumn("{task.fields[stats]}"), console=self.console,
                                     transient=False)
            self.task = self.progress.add_task("validate", total=total, completed=done, stats="")

    def __enter__(self) -> "ProgressReporter":
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def stats(self) -> str:
        c = self.counts
        parts = [f"in class {c.get('in_class', 0)}"]
        if c.get("agree") or c.get("disagree"):
            parts.append(f"agree {c.get('agree', 0)}/{c.get('agree', 0) + c.get('disagree', 0)}")
        for key in ("timeout", "solver_failure", "errors"):
            if c.get(key):
                parts.append(f"{key.replace('_', ' ')} {c[key]}")
        return " | ".join(parts)

    def advance(self, row: dict[str, Any]) -> None:
        self.done += 1
        self._since += 1
        c = self.counts
        if row.get("outcome") == "in_class":
            c["in_class"] = c.get("in_class", 0) + 1
        if row.get("outcome") in ("input_error", "import_failure"):
            c["errors"] = c.get("errors", 0) + 1
        status = (row.get("roadrunner") or {}).get("status")
        if status in ("timeout", "solver_failure"):
            c[status] = c.get(status, 0) + 1
        if row.get("existence_agree") is not None:
            key = "agree" if row["existence_agree"] else "disagree"
            c[key] = c.get(key, 0) + 1
        if self.progress is not None:
            self.progress.update(self.task, completed=self.done, stats=self.stats())
        elif self.enabled and (time.monotonic() - self._last_line > 30 or self._since >= 25
                               or self.done == self.total):
            self.console.print(f"validate: {self.done}/{self.total} models | {self.stats()}",
                               highlight=False)
            self._last_line, self._since = time.monotonic(), 0
