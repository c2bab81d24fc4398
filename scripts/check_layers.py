"""Enforce the dependency rules of DESIGN §3: consultation imports neither web nor search;
search may import consultation but not web. Exits non-zero with each offending import."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"consultation": ("web", "search"), "search": ("web",)}


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def main() -> int:
    problems = []
    for package, banned in FORBIDDEN.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for line, module in imports(path):
                if module.split(".")[0] in banned:
                    problems.append(f"{path.relative_to(ROOT)}:{line}: {package} must not import {module}")
    for problem in problems:
        print(problem)
    if not problems:
        print("layer rules hold")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
