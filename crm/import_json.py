"""JSON list files for the importer core: the items of a top-level list, each with the line it starts
on, nesting past the importer's limit reported per item, malformed JSON refused with its line."""

from __future__ import annotations

import json
from collections.abc import Iterator

from crm.imports import Importer, ImportRefused, Issue, Record
from crm.validators import json_value_span


def _line_of(text: str, i: int) -> int:
    return text.count("\n", 0, i) + 1


def _skip_ws(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in " \t\r\n":
        i += 1
    return i


def _value_end(text: str, i: int) -> tuple[int, int]:
    """End offset and depth of the list or object at i (-1, 0 if there is none there)."""
    if i >= len(text) or text[i] not in "[{":
        return -1, 0
    return json_value_span(text, i)


def json_list_records(importer: Importer, text: str, *, what: str = "records") -> Iterator[Record | Issue]:
    """Items of a top-level JSON list, each with the line it starts on; malformed JSON is refused."""
    decoder = json.JSONDecoder()
    n = len(text)
    i = _skip_ws(text, 0)
    if i >= n:
        raise ImportRefused("the file is empty")
    if text[i] != "[":
        raise ImportRefused(f"line {_line_of(text, i)}: expected a JSON list of {what}")
    i = _skip_ws(text, i + 1)
    if i < n and text[i] == "]":
        if _skip_ws(text, i + 1) < n:
            raise ImportRefused(f"line {_line_of(text, _skip_ws(text, i + 1))}: unexpected text after the list")
        return
    while True:
        line = _line_of(text, i)
        end, depth = _value_end(text, i)
        if depth > importer.json_max_depth and end > 0:
            yield Issue(line, f"JSON nested {depth} levels deep; at most {importer.json_max_depth} are accepted")
        elif depth > importer.json_max_depth:
            raise ImportRefused(f"line {line}: invalid JSON: an unterminated value nested {depth} levels deep")
        else:
            try:
                value, end = decoder.raw_decode(text, i)
            except json.JSONDecodeError as exc:
                raise ImportRefused(f"line {exc.lineno}: invalid JSON: {exc.msg}") from None
            except RecursionError:  # defensive: the depth scan should have caught it
                raise ImportRefused(f"line {line}: JSON nested too deeply") from None
            yield Record(line, value, {"record": text[i:end]})
        i = _skip_ws(text, end)
        if i < n and text[i] == ",":
            i = _skip_ws(text, i + 1)
            continue
        if i < n and text[i] == "]":
            if _skip_ws(text, i + 1) < n:
                raise ImportRefused(f"line {_line_of(text, _skip_ws(text, i + 1))}: unexpected text after the list")
            return
        raise ImportRefused(f"line {_line_of(text, min(i, n - 1))}: expected ',' or ']'")
