"""The pure modules (the kernel, every context's model and posting templates) import only the
standard library, python-stdnum, the kernel and other contexts' pure modules: an allow-list,
so that a new dependency is a decision someone makes here rather than a line that slips in."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "xinbao"
PURE = sorted([*SRC.glob("kernel/*.py"), *SRC.glob("*/model.py"), *SRC.glob("*/model/*.py"),
               *SRC.glob("*/postings.py")])
THIRD_PARTY = {"stdnum"}


def _allowed(module: str) -> bool:
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top == "__future__" or top in THIRD_PARTY:
        return True
    parts = module.split(".")
    return top == "xinbao" and (parts[1:2] == ["kernel"] or parts[2:3] in (["model"], ["postings"]))


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [node.module] if node.module != "xinbao" else [
                f"xinbao.{alias.name}" for alias in node.names]
    return found


def test_every_context_has_pure_modules_to_check() -> None:
    contexts = {p.relative_to(SRC).parts[0] for p in PURE}
    assert {"kernel", "iam", "catalogue", "ledger", "loans", "underwriting", "policy", "risk",
            "claims"} <= contexts


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(SRC)))
def test_a_pure_module_imports_only_the_standard_library_stdnum_and_other_pure_modules(
        path: Path) -> None:
    assert [m for m in _imports(path) if not _allowed(m)] == []


@pytest.mark.parametrize("module, allowed", [
    ("decimal", True), ("stdnum.cn.ric", True), ("xinbao.kernel.money", True),
    ("xinbao.loans.model", True), ("xinbao.risk.model.pricing", True),
    ("numpy", False), ("sqlalchemy", False), ("xinbao.loans.sql", False),
    ("xinbao.policy.postings", True), ("xinbao.risk.services", False),
    ("xinbao.platform.crypto", False),
])
def test_the_allow_list_tells_pure_from_impure(module: str, allowed: bool) -> None:
    assert _allowed(module) is allowed
