"""End-to-end fixtures: the console adapter run as a real `cds-bot console` subprocess."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

INDENT = "  "  # messages shown under a header are indented
TIMEOUT = 30  # seconds for one process; each normally takes one or two


@dataclass
class ConsoleRun:
    """What one `cds-bot console` process printed, with helpers to find things in it."""

    stdout: str
    stderr: str
    returncode: int

    def __contains__(self, text: str) -> bool:
        return text in self.stdout

    def find(self, pattern: str) -> str:
        """The first group of the first match of `pattern` (multi-line, dot matches newline)."""
        match = re.search(pattern, self.stdout, re.DOTALL)
        assert match is not None, f"{pattern!r} not in:\n{self.stdout}"
        return match.group(1)

    def after(self, marker: str) -> str:
        """What was printed after the first occurrence of `marker`."""
        index = self.stdout.find(marker)
        assert index >= 0, f"{marker!r} not in:\n{self.stdout}"
        return self.stdout[index + len(marker) :]

    def block(self, header: str, contains: str) -> str:
        """The message printed under `header` (its indented lines) that holds `contains`:
        proves that this text went to that place."""
        lines = self.stdout.splitlines()
        for index, line in enumerate(lines):
            if line != header:
                continue
            body = []
            for following in lines[index + 1 :]:
                if not following.startswith(INDENT):
                    break
                body.append(following.removeprefix(INDENT))
            message = "\n".join(body)
            if contains in message:
                return message
        raise AssertionError(f"no message under {header!r} containing {contains!r}:\n{self.stdout}")


@dataclass
class Console:
    """Runs `cds-bot console --demo` on one SQLite file, as many times as a test needs."""

    directory: Path
    runs: list[ConsoleRun] = field(default_factory=list)

    @property
    def db_path(self) -> Path:
        return self.directory / "x.db"

    @property
    def url(self) -> str:
        return f"sqlite+aiosqlite:///{self.db_path}"

    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("CDS_")}
        env.update(
            {
                # Assertions read English; the catalogues may translate the default (fr).
                "CDS_COMMUNITY__DEFAULT_LANGUAGE": "en",
                "CDS_LOG_LEVEL": "WARNING",
                "PYTHONIOENCODING": "utf-8",
            }
        )
        return env

    def run(self, *lines: str, as_name: str | None = None, demo: bool = True) -> ConsoleRun:
        command = [sys.executable, "-m", "bot.cli", "console", "--db", self.url]
        if demo:
            command.append("--demo")
        if as_name is not None:
            command += ["--as", as_name]
        process = subprocess.run(
            command,
            input="".join(line + "\n" for line in lines),
            capture_output=True,
            text=True,
            encoding="utf-8",
            cwd=self.directory,
            env=self.env(),
            timeout=TIMEOUT,
            check=False,
        )
        run = ConsoleRun(process.stdout, process.stderr, process.returncode)
        self.runs.append(run)
        assert process.returncode == 0, f"exit {process.returncode}\n{run.stdout}\n{run.stderr}"
        assert "Traceback" not in process.stderr, process.stderr
        return run

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db_path) as connection:
            return connection.execute(sql, params).fetchall()


@pytest.fixture
def console(tmp_path: Path) -> Console:
    return Console(tmp_path)
