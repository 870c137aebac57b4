"""Playbook import: a PDF (page numbers kept), Markdown (sections by heading) or plain text, split
into passages a citation can point at. Re-importing a title replaces its passages in one transaction,
so a search never sees half a playbook.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from assistant import cache, search, semantic
from assistant.models import Passage, PlaybookDocument
from crm.errors import ServiceError

# A passage is what a citation points at: long enough to hold a policy with its reason, short
# enough that "the cited passage contains the supporting text" is a meaningful check.
MAX_PASSAGE_CHARS = 1200
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# In a PDF's text layer, a short line in Title Case or ending with ":" that is followed by body
# text is taken as a section heading (what the sample generator and most exported playbooks do).
_PDF_HEADING = re.compile(r"^(?:\d+(?:\.\d+)*\.?\s+)?[A-Z][^.!?]{2,80}$")


@dataclass(frozen=True)
class PassageDraft:
    heading: str
    text: str
    page: int | None = None


def _chunks(text: str) -> list[str]:
    """Paragraph groups of at most MAX_PASSAGE_CHARS, never splitting a paragraph unless it alone is too long."""
    paragraphs = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    out: list[str] = []
    current = ""
    for p in filter(None, paragraphs):
        while len(p) > MAX_PASSAGE_CHARS:
            cut = p.rfind(". ", 0, MAX_PASSAGE_CHARS) + 1 or MAX_PASSAGE_CHARS
            if current:
                out.append(current)
                current = ""
            out.append(p[:cut].strip())
            p = p[cut:].strip()
        if current and len(current) + len(p) + 1 > MAX_PASSAGE_CHARS:
            out.append(current)
            current = ""
        current = f"{current}\n{p}".strip()
    if current:
        out.append(current)
    return out


def parse_markdown(text: str) -> list[PassageDraft]:
    drafts: list[PassageDraft] = []
    heading, body = "", []

    def flush():
        for chunk in _chunks("\n".join(body)):
            drafts.append(PassageDraft(heading=heading, text=chunk))

    for line in text.splitlines():
        m = _HEADING.match(line)
        if m:
            flush()
            heading, body = m.group(2).strip(), []
        else:
            body.append(line)
    flush()
    return drafts


def parse_text(text: str) -> list[PassageDraft]:
    return [PassageDraft(heading="", text=chunk) for chunk in _chunks(text)]


def _pdf_page_passages(page_no: int, text: str, heading: str) -> tuple[list[PassageDraft], str]:
    drafts: list[PassageDraft] = []
    body: list[str] = []

    def flush():
        for chunk in _chunks("\n".join(body)):
            drafts.append(PassageDraft(heading=heading, text=chunk, page=page_no))

    lines = [line.rstrip() for line in text.splitlines()]
    for i, line in enumerate(lines):
        stripped = line.strip()
        nxt = next((x.strip() for x in lines[i + 1 :] if x.strip()), "")
        if stripped and _PDF_HEADING.match(stripped) and len(stripped) <= 80 and nxt and len(nxt) > len(stripped):
            flush()
            heading, body = stripped.rstrip(":"), []
        else:
            body.append(line if stripped else "")
    flush()
    return drafts, heading


def parse_pdf(data: bytes) -> tuple[list[PassageDraft], int]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise ServiceError(f"The file is not a readable PDF ({exc.__class__.__name__}).", field="file") from None
    if not any(p.strip() for p in pages):
        raise ServiceError(
            "The PDF has no text layer (scanned pages?): run it through OCR first, or upload Markdown or text.",
            field="file",
        )
    drafts: list[PassageDraft] = []
    heading = ""
    for number, text in enumerate(pages, start=1):
        page_drafts, heading = _pdf_page_passages(number, text, heading)
        drafts.extend(page_drafts)
    return drafts, len(pages)


def kind_for(file_name: str, data: bytes) -> str:
    name = (file_name or "").lower()
    if data.startswith(b"%PDF") or name.endswith(".pdf"):
        return PlaybookDocument.Kind.PDF
    if name.endswith((".md", ".markdown")):
        return PlaybookDocument.Kind.MARKDOWN
    return PlaybookDocument.Kind.TEXT


def _decode(data: bytes) -> str:
    if b"\x00" in data:
        raise ServiceError("The file is binary, not text: upload a PDF, Markdown or plain text.", field="file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ServiceError(f"The file is not UTF-8 text (byte {exc.start}).", field="file") from None


def parse(file_name: str, data: bytes) -> tuple[str, list[PassageDraft], int]:
    if not data:
        raise ServiceError("The file is empty.", field="file")
    if len(data) > settings.ASSISTANT_PLAYBOOK_MAX_BYTES:
        raise ServiceError(
            f"The file is {len(data):,} bytes; the limit is {settings.ASSISTANT_PLAYBOOK_MAX_BYTES:,}.", field="file"
        )
    kind = kind_for(file_name, data)
    if kind == PlaybookDocument.Kind.PDF:
        drafts, pages = parse_pdf(data)
    elif kind == PlaybookDocument.Kind.MARKDOWN:
        drafts, pages = parse_markdown(_decode(data)), 0
    else:
        drafts, pages = parse_text(_decode(data)), 0
    if not drafts:
        raise ServiceError("No text was found in the file.", field="file")
    return kind, drafts, pages


@transaction.atomic
def import_playbook(*, team, data: bytes, file_name: str, title: str = "", actor=None) -> PlaybookDocument:
    """Parse first (nothing is written if that fails), then replace the document's passages at once."""
    kind, drafts, pages = parse(file_name, data)
    title = (title or re.sub(r"\.[A-Za-z0-9]+$", "", file_name or "") or "Sales playbook").strip()[:200]
    doc, _ = PlaybookDocument.objects.select_for_update().update_or_create(
        team=team,
        title=title,
        defaults={
            "kind": kind,
            "file_name": (file_name or "")[:255],
            "sha256": hashlib.sha256(data).hexdigest(),
            "pages": pages,
            "uploaded_by": actor if getattr(actor, "pk", None) else None,
            "imported_at": timezone.now(),
        },
    )
    old_ids = list(doc.passages.values_list("pk", flat=True))
    search.forget(old_ids)
    doc.passages.all().delete()
    passages = Passage.objects.bulk_create(
        Passage(document=doc, ordinal=i, heading=d.heading[:300], page=d.page, text=d.text)
        for i, d in enumerate(drafts, start=1)
    )
    search.index([p.pk for p in passages])
    semantic.index(passages)
    # Cached searches of the old text stop being served once the new text is visible to others.
    transaction.on_commit(cache.playbook_changed)
    return doc
