"""Comments cite the design records in docs/, never documents outside the repository.

A reader of this repository cannot follow a citation of a file that lives beside it (the old
planning notes, by their section numbers). Every `docs/<name>.md` a comment or docstring cites
must exist, and a quoted section after it (`docs/architecture.md "The op table"`) must be one
of that file's headings.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCANNED = ("sesh_mesh", "tests", "bench", "scripts")
SKIPPED_DIRS = {"node_modules", "__pycache__", "__snapshots__", "samples"}

OUTSIDE = re.compile(r"\b(?:SPEC|MESH-NOTES|AGENTS-FACTS)\b|\.\./shared\b|/work/shared\b")
"""The documents outside the repository that comments used to cite."""

CITATION = re.compile(r'(?<![\w/.-])docs/([A-Za-z0-9_-]+\.md)(?:,?\s+"([^"]+)")?')
"""`docs/<name>.md`, optionally followed by a quoted section; `pkg/docs/x.md` names another project's file."""
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)


def _sources() -> list[Path]:
    found = []
    for top in SCANNED:
        for path in sorted((REPO / top).rglob("*")):
            if not path.is_file() or SKIPPED_DIRS & set(path.relative_to(REPO).parts):
                continue
            if path.suffix == ".py" or (top == "scripts" and not path.suffix):
                found.append(path)
    return [path for path in found if path != Path(__file__).resolve()]


def _text(path: Path) -> str:
    # A citation may wrap: join a line break and the next line's comment marker into a space.
    return re.sub(r"\s*\n\s*(?:#\s*)?", " ", path.read_text(encoding="utf-8", errors="replace"))


def test_the_scan_sees_the_sources() -> None:
    names = {path.relative_to(REPO).as_posix() for path in _sources()}
    assert {"sesh_mesh/daemon/mesh_rpc.py", "tests/conftest.py", "scripts/test"} <= names


def test_no_citation_of_documents_outside_the_repository() -> None:
    offending = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in _sources()
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not offending, "cite docs/*.md instead:\n" + "\n".join(offending)


def test_every_cited_doc_and_section_exists() -> None:
    headings: dict[str, set[str]] = {}
    missing = []
    for path in _sources():
        for match in CITATION.finditer(_text(path)):
            name, section = match.group(1), match.group(2)
            doc = REPO / "docs" / name
            if not doc.is_file():
                missing.append(f"{path.relative_to(REPO)}: docs/{name} does not exist")
                continue
            if section is None:
                continue
            if name not in headings:
                headings[name] = {h.lower() for h in HEADING.findall(doc.read_text(encoding="utf-8"))}
            if section.lower() not in headings[name]:
                missing.append(f'{path.relative_to(REPO)}: docs/{name} has no section "{section}"')
    assert not missing, "\n".join(missing)
