"""Which tickets: visibility, the inbox order, topic-alert matching, and the score in SQL.

`score_expressions` mirrors tickets/scoring.py so that a weights change or the aging job rescores
every open ticket in one UPDATE statement; tests check it against the pure module.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Case, Exists, F, FloatField, OuterRef, Q, Value, When
from django.db.models.functions import Greatest, Least

from crm.models import TeamScopedQuerySet
from tickets.scoring import URGENCY, Weights


def _f(x: float) -> Value:
    return Value(float(x), output_field=FloatField())


def score_expressions(w: Weights, now_ts: float) -> dict[str, models.Expression]:
    """Column -> SQL expression over the ticket's stored inputs; `score` is their sum."""
    churn = Greatest(Least(F("customer_churn"), _f(1.0)), _f(0.0)) * _f(w.churn)
    value = Greatest(F("customer_ltv"), _f(0.0)) / _f(1000.0) * _f(w.value)
    urgency = Case(
        *[When(priority=p, then=_f(u * w.urgency)) for p, u in URGENCY.items()],
        default=_f(URGENCY["normal"] * w.urgency),
        output_field=FloatField(),
    )
    share = Case(
        When(
            Q(waiting_since_ts__isnull=False, response_target_s__gt=0),
            then=Greatest((_f(now_ts) - F("waiting_since_ts")) / F("response_target_s"), _f(0.0)),
        ),
        default=_f(0.0),
        output_field=FloatField(),
    )
    age = Least(share, _f(w.age_cap)) * _f(w.age)
    difficulty = Case(
        When(difficulty="easy", then=_f(w.easy_bonus)),
        When(difficulty="complex", then=_f(w.complex_penalty)),
        default=_f(0.0),
        output_field=FloatField(),
    )
    sentiment = Case(
        When(sentiment__lt=w.sentiment_threshold, then=_f(w.sentiment_boost)),
        default=_f(0.0),
        output_field=FloatField(),
    )
    parts = {
        "score_churn": churn,
        "score_value": value,
        "score_urgency": urgency,
        "score_age": age,
        "score_difficulty": difficulty,
        "score_sentiment": sentiment,
    }
    total = churn + value + urgency + age + difficulty + sentiment
    return {**parts, "score": total}


class RowLessThan(models.Expression):
    """SQL row comparison `(a, b) < (x, y)`: one range condition an index on (a, b) can seek to."""

    conditional = True
    output_field = models.BooleanField()

    def __init__(self, left: list, right: list):
        super().__init__()
        self.left, self.right = list(left), list(right)

    def get_source_expressions(self):
        return [*self.left, *self.right]

    def set_source_expressions(self, exprs):
        n = len(self.left)
        self.left, self.right = list(exprs[:n]), list(exprs[n:])

    def as_sql(self, compiler, connection):
        sqls, params = [], []
        for expr in self.get_source_expressions():
            sql, p = compiler.compile(expr)
            sqls.append(sql)
            params.extend(p)
        n = len(self.left)
        return f"({', '.join(sqls[:n])}) < ({', '.join(sqls[n:])})", params


class TicketQuerySet(TeamScopedQuerySet):
    team_path = "team"

    def open(self):
        return self.filter(status__in=self.model.ACTIVE_STATUSES)

    def waiting(self):
        return self.filter(status=self.model.Status.OPEN, waiting_since_ts__isnull=False)

    def _keyword_model(self):
        # Reached through the reverse relation, so this module never imports tickets.models.
        return self.model._meta.get_field("keywords").related_model

    def matching(self, terms: list[str], *, team_ids=None):
        """Tickets whose precomputed keywords include any of `terms` (an indexed lookup, no text scan)."""
        TicketKeyword = self._keyword_model()
        kw = TicketKeyword.objects.filter(keyword__in=terms)
        if team_ids is not None:
            kw = kw.filter(team_id__in=team_ids)
        return self.filter(pk__in=kw.values("ticket_id"))

    def annotate_match(self, terms: list[str]):
        TicketKeyword = self._keyword_model()
        if not terms:
            return self.annotate(matches_alert=Value(False, output_field=models.BooleanField()))
        return self.annotate(
            matches_alert=Exists(TicketKeyword.objects.filter(ticket_id=OuterRef("pk"), keyword__in=terms))
        )

    def smart_order(self):
        return self.order_by("-score", "-id")

    def after(self, score: float, pk: int):
        """Keyset: rows after (score, id) in smart order. Written as a row comparison so PostgreSQL
        walks the (team, status, score, id) index backwards from the cursor instead of filtering."""
        return self.filter(RowLessThan([F("score"), F("id")], [_f(score), Value(int(pk))]))

    def rescore(self, weights: Weights, *, now_ts: float) -> int:
        """One set-based UPDATE: every selected ticket's score and components from its stored inputs."""
        return self.update(**score_expressions(weights, now_ts), weight_set_id=weights.set_id)

    def boosted_after(self, eff: float, pk: int):
        """Keyset over an `eff` annotation (score + topic alert boost) for tickets matching an alert.
        The boost is added in SQL, as it was for the cursor's own row, so the comparison is exact."""
        return self.filter(Q(eff__lt=eff) | Q(eff=eff, pk__lt=pk))
