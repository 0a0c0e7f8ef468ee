"""Fixtures of the security suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadence.adapters.templates import Templates
from tests.adapters.test_templates import FOOTER, LAYOUT, Folder


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    """Write templates (name -> source) into a fresh folder with a footer and layout; return its Templates."""

    def make(max_output_chars: int = 200_000, **files: str) -> Templates:
        sources = {"email/_footer.txt": FOOTER, "email/_layout.html": LAYOUT, **files}
        for name, source in sources.items():
            path = tmp_path / f"{name}.j2"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(source, encoding="utf-8")
        return Templates(tmp_path, max_output_chars=max_output_chars)

    return make
