"""Regenerate sales_playbook.pdf from sales_playbook.md: `python assistant/sample_data/make_pdf.py`.

A small, dependency-free PDF writer (standard Helvetica, WinAnsi text), so the sample playbook
is a real PDF with a text layer that anyone can rebuild and diff. Each "## " section starts on a
new line in bold; pages break when full, so passages keep real page numbers.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAGE_W, PAGE_H, MARGIN, LEADING = 595, 842, 56, 15
LINES_PER_PAGE = (PAGE_H - 2 * MARGIN) // LEADING
# Four sections a page, so the sample spreads over several pages and page numbers mean something.
SECTIONS_PER_PAGE = 4


def _escape(text: str) -> bytes:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("cp1252")


def layout(markdown: str) -> list[list[tuple[str, str]]]:
    """Pages of (font, line) pairs."""
    pages: list[list[tuple[str, str]]] = [[]]
    sections_on_page = 0
    for block in markdown.split("\n"):
        block = block.rstrip()
        if block.startswith("## "):
            if sections_on_page == SECTIONS_PER_PAGE:
                pages.append([])
                sections_on_page = 0
            sections_on_page += 1
            lines = [("F2", block[3:])]
        elif block.startswith("# "):
            lines = [("F2", block[2:]), ("F1", "")]
        elif not block:
            lines = [("F1", "")]
        else:
            lines = [("F1", line) for line in textwrap.wrap(block, 88)]
        for line in lines:
            if len(pages[-1]) >= LINES_PER_PAGE:
                pages.append([])
            pages[-1].append(line)
    return pages


def build(markdown: str) -> bytes:
    pages = layout(markdown)
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    pages_obj = add(b"")
    font1 = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    font2 = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
    kids = []
    for lines in pages:
        stream = [b"BT", f"{MARGIN} {PAGE_H - MARGIN} Td".encode(), f"{LEADING} TL".encode()]
        for font, text in lines:
            stream.append(f"/{font} 11 Tf".encode())
            stream.append(b"(" + _escape(text) + b") Tj T*")
        stream.append(b"ET")
        data = b"\n".join(stream)
        content = add(b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")
        kids.append(
            add(
                f"<< /Type /Page /Parent {pages_obj} 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] "
                f"/Resources << /Font << /F1 {font1} 0 R /F2 {font2} 0 R >> >> /Contents {content} 0 R >>".encode()
            )
        )
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {pages_obj} 0 R >>".encode()
    objects[pages_obj - 1] = (
        f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>".encode()
    )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def main() -> None:
    source = HERE / "sales_playbook.md"
    target = HERE / "sales_playbook.pdf"
    target.write_bytes(build(source.read_text(encoding="utf-8")))
    sys.stdout.write(f"wrote {target}\n")


if __name__ == "__main__":
    main()
