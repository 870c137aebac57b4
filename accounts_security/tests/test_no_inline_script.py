"""The Content-Security-Policy allows scripts from 'self' only, so an inline <script> in a template
silently does nothing in production (the plan page's Copy button did). Every script has a src."""

import re
from pathlib import Path

from django.conf import settings

INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)


def test_no_template_has_an_inline_script():
    roots = [Path(d) for d in settings.TEMPLATES[0]["DIRS"]] + list(Path(settings.BASE_DIR).glob("*/templates"))
    offenders = [
        f"{path.relative_to(settings.BASE_DIR)}: {m.group(0)}"
        for root in roots
        for path in root.rglob("*.html")
        for m in INLINE.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
