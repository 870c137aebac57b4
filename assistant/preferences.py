"""Preference data from use, for fine-tuning a checker or answerer outside the web application.

The seed fine-tunes its reflection agent with PPO on labelled examples. We collect the equivalent
from what reps do:

- an answer the checker rejected and then accepted after a retry gives a pair: the accepted answer
  is `chosen`, the rejected attempt `rejected` (`source: "checker-retry"`, with the checker's reasons);
- answers to the same question (compared case- and space-insensitively) that reps rated differently
  give pairs: each helpful answer is `chosen` against each unhelpful one (`source: "rating"`).

One JSON object a line:

    {"prompt": ..., "chosen": ..., "rejected": ..., "source": ..., "reason": ..., "message_ids": [...]}

This is the format TRL's DPOTrainer and RewardTrainer read (prompt/chosen/rejected).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from assistant.models import Message


def _text(answer: dict) -> str:
    return " ".join(s.get("text", "") for s in answer.get("sentences", []))


def _question(message: Message) -> str:
    q = message.conversation.messages.filter(role=Message.Role.USER, pk__lt=message.pk).order_by("-id").first()
    return q.text if q else ""


def pairs(queryset=None) -> Iterator[dict]:
    qs = queryset if queryset is not None else Message.objects.all()
    qs = qs.filter(role=Message.Role.ASSISTANT, status=Message.Status.DONE).select_related("rating", "conversation")
    rated: dict[str, dict[bool, list[Message]]] = {}
    prompts: dict[str, str] = {}
    for m in qs.order_by("id").iterator(chunk_size=500):
        prompt = _question(m)
        if m.verdict.get("ok"):
            for attempt in m.attempts:
                rejected = _text(attempt["answer"])
                if rejected and rejected != m.text:
                    reason = " ".join(attempt["verdict"].get("problems", []))
                    yield {
                        "prompt": prompt,
                        "chosen": m.text,
                        "rejected": rejected,
                        "source": "checker-retry",
                        "reason": reason,
                        "message_ids": [m.pk],
                    }
        rating = getattr(m, "rating", None)
        if rating is not None:
            key = " ".join(prompt.lower().split())
            prompts.setdefault(key, prompt)
            rated.setdefault(key, {True: [], False: []})[rating.helpful].append(m)
    for key, groups in rated.items():
        for good in groups[True]:
            for bad in groups[False]:
                if good.text != bad.text:
                    yield {
                        "prompt": prompts[key],
                        "chosen": good.text,
                        "rejected": bad.text,
                        "source": "rating",
                        "reason": bad.rating.reason,
                        "message_ids": [good.pk, bad.pk],
                    }


def export(path: str) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for row in pairs():
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n
