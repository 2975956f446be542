"""The message catalogue: every key the code names exists, and texts fit the smallest channel."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from common.messages import VI

ROOT = Path(__file__).resolve().parents[1]
KEY = re.compile(r"""["']((?:[a-z_]+)\.[a-z_.]+)["']""")


def test_every_catalogue_key_named_in_the_code_exists():
    named = set()
    for path in (ROOT / "bot").rglob("*.py"):
        if path.name != "messages.py":
            named |= {k for k in KEY.findall(path.read_text()) if k.split(".")[0] in {x.split(".")[0] for x in VI}}
    missing = sorted(k for k in named if k not in VI and not k.endswith("."))
    assert missing == []


def test_texts_fit_zalo_and_are_vietnamese():
    assert all(len(text) <= 2000 for text in VI.values())  # Zalo's limit, the smaller of the two channels
    assert all(text.strip() == text for text in VI.values())


VIETNAMESE = re.compile("[àáảãạăắằẳẵặâấầẩẫậèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵđ]", re.IGNORECASE)
# Not chat text: the catalogue itself, the domain's word lists and the demo's names (data), the folding
# table, and the administrator's console (its own words, for now).
NOT_CHAT_TEXT = {"common/messages.py", "common/vocab.py", "bot/demo.py", "common/text.py", "bot/cli.py"}


def _docstrings(tree: ast.AST) -> set[int]:
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}


def test_chat_text_is_only_in_the_catalogue():
    found = []
    for folder in ("common", "bot", "scheduler", "storage"):
        for path in (ROOT / folder).rglob("*.py"):
            name = str(path.relative_to(ROOT))
            if name in NOT_CHAT_TEXT or "migrations" in name:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            docs = _docstrings(tree)
            found += [f"{name}:{node.lineno}: {node.value[:40]!r}" for node in ast.walk(tree)
                      if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
                      and VIETNAMESE.search(node.value)]
    assert found == []
