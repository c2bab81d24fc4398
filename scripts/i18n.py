"""Catalog chores for the zh_CN translation.

  python scripts/i18n.py todo              list message ids still untranslated in zh_CN (exit 1 if any)
  python scripts/i18n.py apply FILE.json   fill translations from {"msgid": "译文"} (plurals: a string)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parent.parent / "web" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"


def _load():  # type: ignore[no-untyped-def]
    with PO.open("rb") as handle:
        return read_po(handle, locale="zh_CN")


def untranslated() -> list[str]:
    catalog = _load()
    missing = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        if not all(strings) or message.fuzzy:
            missing.append(message.id[0] if isinstance(message.id, tuple) else message.id)
    return missing


def apply(path: Path) -> int:
    translations: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    catalog = _load()
    applied = 0
    for message in catalog:
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        if key in translations:
            text = translations[key]
            message.string = (text,) if isinstance(message.id, tuple) else text
            message.flags.discard("fuzzy")
            applied += 1
    with PO.open("wb") as handle:
        write_po(handle, catalog, width=100, omit_header=False, sort_output=True, include_lineno=False)
    return applied


def main(argv: list[str]) -> int:
    if argv[:1] == ["todo"]:
        missing = untranslated()
        for msgid in missing:
            print(json.dumps(msgid, ensure_ascii=False))
        print(f"{len(missing)} untranslated", file=sys.stderr)
        return 1 if missing else 0
    if len(argv) == 2 and argv[0] == "apply":
        print(f"applied {apply(Path(argv[1]))} translations")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
