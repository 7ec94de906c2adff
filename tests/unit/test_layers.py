"""The four floors (bot > schedules > handlers > store) import only downwards.

Every import of every module is read with `ast`, lazy ones inside functions and
`importlib.import_module("...")` calls included, and checked against the table below.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("bot", "schedules", "handlers", "store")
PLATFORMS = ("telegram", "discord")


@dataclass(frozen=True)
class Rule:
    """Modules under `applies_to` may not import `forbidden`, except what `allowed` names."""

    name: str
    applies_to: tuple[str, ...]
    forbidden: tuple[str, ...]
    allowed: tuple[str, ...] = ()


RULES = (
    Rule("store imports nothing of the project", ("store",), ("bot", "handlers", "schedules")),
    Rule("store knows no platform nor scheduler", ("store",), (*PLATFORMS, "apscheduler")),
    Rule(
        "handlers import only store of the project, and no platform nor scheduler",
        ("handlers",),
        ("bot", "schedules", *PLATFORMS, "apscheduler"),
    ),
    Rule("schedules import handlers and store, no platform", ("schedules",), ("bot", *PLATFORMS)),
    Rule("nothing imports bot except bot", ("handlers", "schedules", "store"), ("bot",)),
    *(
        Rule(
            f"the {adapter} adapter imports only handlers of the project",
            (f"bot.{adapter}",),
            LAYERS,
            allowed=("handlers", f"bot.{adapter}"),
        )
        for adapter in ("console", "telegram", "discord")
    ),
    *(
        Rule(
            f"the {adapter} adapter knows no other platform",
            (f"bot.{adapter}",),
            tuple(p for p in PLATFORMS if p != adapter),
        )
        for adapter in ("console", "telegram", "discord")
    ),
)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    path: Path
    line: int
    target: str  # what it imports, as a dotted name

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line} imports {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def imports_in(source: str, module: str, *, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """(line, dotted target) of every import in `source`, relative ones resolved."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            for alias in node.names:
                # `from bot import config` imports bot.config; `from x import name` keeps x.
                yield node.lineno, stem if alias.name == "*" else f"{stem}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if called in ("import_module", "__import__") and isinstance(first, ast.Constant):
                yield node.lineno, str(first.value)


def project_imports() -> list[Import]:
    found = []
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            module = module_name(path)
            source = path.read_text(encoding="utf-8")
            for line, target in imports_in(source, module, is_package=path.stem == "__init__"):
                found.append(Import(module, path, line, target))
    return found


@pytest.fixture(scope="module")
def all_imports() -> list[Import]:
    return project_imports()


def test_every_layer_is_read(all_imports):
    read = {item.module.split(".")[0] for item in all_imports}
    assert {"bot", "handlers", "store"} <= read


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_layering(rule: Rule, all_imports):
    broken = [
        str(item)
        for item in all_imports
        if any(within(item.module, scope) for scope in rule.applies_to)
        and any(within(item.target, banned) for banned in rule.forbidden)
        and not any(within(item.target, ok) for ok in rule.allowed)
    ]
    assert not broken, f"{rule.name}:\n  " + "\n  ".join(broken)


def test_imports_are_resolved_like_python_does():
    source = """
from . import render
from ..config import Settings
from handlers.chat import Actor
import store.models as models
import importlib
importlib.import_module("bot.app")
"""
    found = [target for _, target in imports_in(source, "bot.console.main")]
    assert found == [
        "bot.console.render",
        "bot.config.Settings",
        "handlers.chat.Actor",
        "store.models",
        "importlib",
        "bot.app",
    ]
    assert [t for _, t in imports_in("from .chat import X", "handlers", is_package=True)] == [
        "handlers.chat.X"
    ]
