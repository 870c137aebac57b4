"""Rule-based triage: sentiment, intent/category, difficulty and language, each with a confidence.

The offline writer for the "tickets.triage" feature: deterministic, from the customer's words only,
so it cannot be talked into anything by instructions inside the text. Confidence grows with the
evidence found; with no evidence the confidence is low and the value is not applied automatically.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from tickets.rules import words

# Each vocabulary carries the English words plus those of the other languages the classifier
# detects (es, fr, de, nl): without them every non-English message fell to "other" (measured by
# `evaluate_ai --feature tickets.triage`, docs/evaluation.md).
CATEGORIES = {
    # category: (words that signal it, difficulty when it is the intent)
    "fraud": (
        {"chargeback", "fraud", "unauthorized", "unauthorised", "scam", "stolen", "dispute"}
        | {"fraude", "estafa", "arnaque", "betrug", "oplichting"},
        "complex",
    ),
    "refund": (
        {"refund", "money back", "reimburse", "return", "returned", "cancel", "cancellation"}
        | {"reembolso", "devolución", "devolví", "remboursement", "rembourser", "rückerstattung", "erstattung"}
        | {"terugbetaling", "geld terug"},
        "complex",
    ),
    "damaged": (
        {"damaged", "broken", "defective", "cracked", "faulty", "smashed"}
        | {"roto", "rota", "dañado", "cassé", "cassée", "abîmé", "kaputt", "beschädigt", "defekt", "kapot", "gebroken"},
        "complex",
    ),
    "delivery": (
        {"delivery", "delivered", "tracking", "shipping", "shipped", "parcel", "package", "arrived", "late", "courier"}
        | {"llegado", "entrega", "envío", "livraison", "colis", "suivi", "reçu", "lieferung", "paket", "geliefert"}
        | {"pakket", "bezorgd", "levering"},
        "easy",
    ),
    "wrong_item": (
        {"wrong item", "wrong size", "wrong colour", "wrong color", "missing parts", "wrong"}
        | {"equivocado", "mauvais article", "falschen", "falsche", "verkeerde"},
        "normal",
    ),
    "billing": (
        {"invoice", "charged", "billing", "payment", "overcharged", "charge", "bill"}
        | {"factura", "cobro", "facture", "rechnung", "factuur"},
        "normal",
    ),
    "account": (
        {"password", "login", "account", "email address", "log in", "sign in"}
        | {"cuenta", "contraseña", "compte", "mot de passe", "konto", "passwort", "wachtwoord", "inloggen"},
        "easy",
    ),
    "address": (
        {"address", "wrong address", "change address", "delivery address", "new address", "my address", "moved"}
        | {"dirección", "adresse", "adres"},
        "easy",
    ),
    "question": (
        {"question", "how", "when", "which", "available", "stock"} | {"disponible", "verfügbar", "voorraad"},
        "easy",
    ),
}
NEGATIVE = {
    "angry",
    "furious",
    "unacceptable",
    "terrible",
    "awful",
    "worst",
    "ridiculous",
    "disappointed",
    "frustrated",
    "frustrating",
    "useless",
    "never",
    "still",
    "again",
    "complaint",
    "scam",
    "horrible",
    "disgusted",
    "annoyed",
    "upset",
    "fed",
    "waiting",
    "nobody",
    "lawyer",
    "cancel",
    # es, fr, de, nl
    "inaceptable",
    "molesto",
    "inacceptable",
    "déçu",
    "furieux",
    "enttäuscht",
    "immer noch",
    "zu spät",
    "teleurgesteld",
}
POSITIVE = {"thanks", "thank", "great", "love", "happy", "perfect", "excellent", "appreciate", "wonderful", "pleased"}
LANGUAGES = {
    "en": {"the", "and", "is", "my", "not", "you", "have", "it", "order", "please", "was"},
    "es": {"el", "la", "de", "que", "y", "mi", "no", "pedido", "por", "favor", "es"},
    "fr": {"le", "la", "de", "et", "je", "mon", "pas", "commande", "est", "vous", "une"},
    "de": {"der", "die", "das", "und", "ich", "nicht", "meine", "bestellung", "ist", "sie", "mein"},
    "nl": {"de", "het", "een", "en", "ik", "niet", "mijn", "bestelling", "is", "u", "van"},
}


@dataclass(frozen=True)
class Field:
    value: object
    confidence: float


@dataclass(frozen=True)
class Triage:
    sentiment: Field
    category: Field
    difficulty: Field
    language: Field
    reasons: list[str]

    def as_dict(self) -> dict:
        return {k: asdict(getattr(self, k)) for k in ("sentiment", "category", "difficulty", "language")}


def _phrase_hits(tokens: list[str], vocabulary: set[str]) -> int:
    text = " " + " ".join(tokens) + " "
    return sum(1 for phrase in vocabulary if f" {phrase} " in text)


def classify(text: str) -> Triage:
    tokens = words(text)
    reasons: list[str] = []

    neg = _phrase_hits(tokens, NEGATIVE)
    pos = _phrase_hits(tokens, POSITIVE)
    shouting = (text or "").count("!") >= 2 or sum(1 for w in (text or "").split() if len(w) > 3 and w.isupper()) >= 2
    neg += 1 if shouting else 0
    # 0.5 is neutral; each negative signal moves it down, each positive one up.
    sentiment = max(0.0, min(1.0, 0.5 - 0.15 * neg + 0.15 * pos))
    sentiment_conf = min(0.95, 0.4 + 0.15 * (neg + pos))
    reasons.append(f"{neg} negative and {pos} positive signals" + (" (shouting)" if shouting else ""))

    hits = {name: _phrase_hits(tokens, vocab) for name, (vocab, _) in CATEGORIES.items()}
    best = max(hits, key=lambda k: (hits[k], -list(CATEGORIES).index(k)))
    if hits[best] == 0:
        category, category_conf, difficulty, difficulty_conf = "other", 0.3, "normal", 0.3
    else:
        total = sum(hits.values())
        category = best
        category_conf = min(0.95, 0.45 + 0.2 * hits[best] + 0.2 * (hits[best] / total))
        difficulty = CATEGORIES[best][1]
        difficulty_conf = round(category_conf * 0.9, 2)
        reasons.append(f"category {best}: {hits[best]} matching words")
    if len(tokens) > 150 and difficulty != "complex":
        difficulty, difficulty_conf = "complex", 0.6
        reasons.append("long message: likely complex")

    scores = {lang: sum(1 for t in tokens if t in vocab) for lang, vocab in LANGUAGES.items()}
    language = max(scores, key=lambda k: (scores[k], k == "en"))
    lang_hits = scores[language]
    runner_up = max((v for k, v in scores.items() if k != language), default=0)
    language_conf = 0.3 if lang_hits == 0 else min(0.95, 0.5 + 0.1 * (lang_hits - runner_up))
    if lang_hits == 0:
        language = "en"

    return Triage(
        sentiment=Field(round(sentiment, 2), round(sentiment_conf, 2)),
        category=Field(category, round(category_conf, 2)),
        difficulty=Field(difficulty, round(difficulty_conf, 2)),
        language=Field(language, round(max(0.3, language_conf), 2)),
        reasons=reasons,
    )
