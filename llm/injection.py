"""The prompt-injection screen: does customer text try to instruct the model?

A hit tags the item for human review (`injection:<input>` in the flags); nothing is ever done
because of it, so the screen leans towards catching attempts, and the dataset in
llm/evals/injection.jsonl holds it to >= 90 % detected and <= 2 % of ordinary texts flagged.

Text is screened in the forms an attacker uses to slip past a plain pattern:
  1. Unicode NFKC (full-width and mathematical letters become ASCII), look-alike Cyrillic and Greek
     letters mapped to Latin, accents dropped, lower case;
  2. zero-width, bidi and other invisible format characters removed;
  3. letters written one by one ("i g n o r e", "i-g-n-o-r-e") joined back into words;
  4. base64, %-encoded and HTML-entity chunks decoded and screened too.
The patterns cover English, French, German, Spanish, Italian, Portuguese and Dutch.
"""

from __future__ import annotations

import base64
import binascii
import functools
import html
import re
import unicodedata
from urllib.parse import unquote

# --- normalising ------------------------------------------------------------------------------

# Cyrillic and Greek letters that look like Latin ones (Unicode's confusables for the letters an
# English instruction uses). NFKC leaves them alone: they are real letters of other scripts.
_LOOKALIKES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j", "к": "k", "ӏ": "l",
    "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "У": "Y", "Ѕ": "S", "І": "I", "Ј": "J",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K",
    "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    # Armenian and Latin oddities
    "օ": "o", "ս": "u", "ո": "n", "ɡ": "g", "ı": "i", "ℓ": "l",
}  # fmt: skip
_CONFUSABLES = str.maketrans(_LOOKALIKES)
# Zero-width and bidi controls, soft hyphen, word joiner, BOM, tag characters: invisible in a
# browser, they split a keyword for a regex.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\U000e0000-\U000e007f]"
)
# Four or more single letters separated by one space, hyphen, dot, underscore or asterisk each:
# "i g n o r e", "i-g-n-o-r-e", "I.G.N.O.R.E". Two or more spaces (or " / ") separate words.
_SPACED = re.compile(r"(?<![\w])(?:[^\W\d_][ \-._*·]){3,}[^\W\d_](?![\w])")
_WORD_GAP = re.compile(r" {2,}| / ")
_B64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_ENTITY = re.compile(r"&#?\w+;")
_INNER_HYPHEN = re.compile(r"(?<=[a-z])-(?=[a-z])")


def _fold(text: str) -> str:
    """NFKC, look-alikes to Latin, invisible characters out, accents off, lower case."""
    if text.isascii():  # most customer text: nothing to normalise (keeps the screen ~10 us)
        return text.lower()
    text = unicodedata.normalize("NFKC", text).translate(_CONFUSABLES)
    text = _INVISIBLE.sub("", text)
    stripped = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return stripped.lower()


def _join_spaced(text: str) -> str:
    if not _SPACED.search(text):
        return text

    def join(m: re.Match) -> str:
        return re.sub(r"[ \-._*·]", "", m.group(0))

    # Word gaps of two or more spaces survive as one space; single separators inside a word go.
    return " ".join(_SPACED.sub(join, part) for part in _WORD_GAP.split(text))


def _decoded_chunks(text: str) -> list[str]:
    """Text hidden in base64, %-escapes or HTML entities, decoded (printable UTF-8 only)."""
    found = []
    for chunk in _B64.findall(text):
        padded = chunk + "=" * (-len(chunk) % 4)
        try:
            raw = base64.b64decode(padded, altchars=b"-_" if ("-" in chunk or "_" in chunk) else None, validate=True)
            decoded = raw.decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            continue
        if decoded and sum(c.isprintable() or c.isspace() for c in decoded) / len(decoded) > 0.9:
            found.append(decoded)
    if _PERCENT.search(text):
        found.append(unquote(text))
    if _ENTITY.search(text):
        found.append(html.unescape(text))
    return found


def variants(text: str, *, depth: int = 2) -> list[str]:
    """Every form of `text` the patterns are run on (folded; spaced letters joined; decoded)."""
    folded = _fold(text)
    forms = [folded]
    joined = _join_spaced(folded)
    if joined != folded:
        forms.append(joined)
    # Hyphens inside words ("ign-ore", "instruc-tions") removed; "follow-up" becomes "followup".
    unhyphenated = _INNER_HYPHEN.sub("", joined) if "-" in joined else joined
    if unhyphenated != joined:
        forms.append(unhyphenated)
    if depth:
        for hidden in _decoded_chunks(text):
            forms += variants(hidden, depth=depth - 1)
    return forms


# --- patterns (run on folded text: lower case, no accents) ------------------------------------

_IGNORE = (
    r"ignore|ignores|ignorez|ignorer|ignoring|disregard|forget|oublie|oubliez|override|bypass"
    r"|ignoriere|ignorieren|ignoriert|vergiss|vergessen|missachte|uberspringe"
    r"|ignora|ignoren|ignorar|olvida|olvide|olvidad|omite|descarta"
    r"|dimentica|dimenticate|tralascia"
    r"|esqueca|esquece|desconsidere|desconsidera"
    r"|negeer|negeren|vergeet"
)
_PRIOR = (
    r"previous|prior|above|earlier|preceding|all|your|the|any|these|those|system|original"
    r"|precedentes|anterieures|toutes|tous|les|tes|vos|vorherigen|bisherigen|obigen|alle|deine|ihre|die|allen"
    r"|anteriores|previas|todas|todos|las|los|tus|sus|precedenti|tutte|le|tue|sue|as|os|suas|vorige|eerdere"
    r"|voorgaande|je|uw|de"
)
_RULES = (
    r"instructions?|prompts?|rules|guidelines|directions|directives|guardrails|restrictions|programming"
    r"|consignes|regles|anweisungen|instruktionen|regeln|vorgaben|befehle|richtlinien"
    r"|instrucciones|reglas|indicaciones|istruzioni|regole|direttive|instrucoes|regras|diretrizes"
    r"|instructies|regels|opdrachten|richtlijnen"
)
_AI = r"ai|a\.i\.|ia|ki|assistant|assistent|assistente|asistente|model|llm|chatbot|bot|gpt|claude|agent ia"
_DATA = (
    r"data|details|records|emails?|e-?mail addresses|addresses|phone numbers|information|info|orders|accounts"
    r"|names|contacts|order numbers?|invoices|address|email address|phone number|account numbers?"
    r"|donnees|informations|coordonnees|daten|angaben|datos|dati|dados|gegevens"
)
_OTHERS = (
    r"other (\w+ )?customers?'?s?|other (\w+ )?clients?'?s?|other (\w+ )?users?'?s?|all customers?'?s?"
    r"|every customer'?s?|all users?'?s?|(the )?(previous|last|next) (customer|client|caller|user)s?'?s?"
    r"|autres clients|tous les clients|anderer kunden|aller kunden|otros clientes|todos los clientes"
    r"|altri clienti|tutti i clienti|outros clientes|todos os clientes|andere klanten|alle klanten"
)

_PATTERNS = [
    # "ignore all previous instructions" in seven languages.
    rf"\b({_IGNORE})\b[^.\n]{{0,40}}?\b({_PRIOR})\b[^.\n]{{0,25}}?\b({_RULES})\b",
    r"\bne (tiens|tenez) (pas|plus) compte\b[^.\n]{0,30}\b(instructions?|consignes|regles)\b",
    r"\bno (hagas|hagan) caso\b[^.\n]{0,30}\b(instrucciones|reglas)\b",
    r"\bnon (considerare|seguire)\b[^.\n]{0,30}\b(istruzioni|regole)\b",
    # A new role or a new set of instructions.
    r"\byou are now\b|\bfrom now on,? (you|your|act|respond|reply|answer|always|only)\b|\bnew (instructions?|rules|task|directive)s?\s*:",
    r"\b(tu es|vous etes) (maintenant|desormais)\b|\ba partir de maintenant\b|\bnouvelles? (instructions?|consignes|taches?)\b",
    r"\bdu bist (jetzt|nun|ab sofort)\b|\bab (jetzt|sofort) (bist|sollst|musst) du\b|\bneue (anweisungen|anweisung|aufgabe|regeln)\b",
    r"\bahora eres\b|\ba partir de ahora\b|\bnuevas (instrucciones|reglas)\b|\bnueva tarea\b",
    r"\bora sei\b|\bd'ora in (poi|avanti)\b|\bnuove (istruzioni|regole)\b|\bnuovo compito\b",
    r"\bagora (voce e|es)\b|\ba partir de agora\b|\bnovas (instrucoes|regras)\b|\bnova tarefa\b",
    r"\bje bent nu\b|\bvanaf nu\b|\bnieuwe (instructies|opdracht|regels)\b",
    # "Your task has changed."
    r"\byour (task|job|role|goal|objective|instructions?|mission|purpose) (has|have|is|was) (now )?(changed|updated|different|overridden|replaced)\b",
    r"\b(ta|votre) (tache|mission|consigne|role) (a|ont) change\b|\b(deine|ihre) aufgabe (hat sich|ist jetzt|wurde)\b",
    r"\b(tu|su) (tarea|mision) (ha|han) cambiado\b|\bil tuo compito (e|è) cambiato\b",
    r"\b(sua|tua) (tarefa|missao) mudou\b|\b(je|uw) (taak|opdracht) is (veranderd|gewijzigd)\b",
    # Text addressed to the model rather than to the people reading the ticket.
    rf"\b(note|message|instruction|memo|notice|reminder) (to|for) (the |any |all )?({_AI})s?\b(?! (manager|director|team|to|of)\b)",
    rf"\b(dear|hey|hi|attention|hello) ({_AI})\b[^.\n]{{0,80}}\b(you must|you should|you will|ignore|disregard|instead|always|never|do not|don't|reply|respond|write|approve|include)\b",
    rf"\b(note|message|remarque|consigne) (a|pour) (l'|la |le )?({_AI})\b|\bhinweis (an|fur) (die |den )?({_AI})\b",
    rf"\bnota (para|per) (la |el |l'|o |a )?({_AI})\b|\bnotitie (voor|aan) de ({_AI})\b",
    rf"\bif you are an? ({_AI}|language model|large language model)\b|\bas an? ({_AI}|language model) (you|reading)\b",
    r"\b(when|while) (you )?(draft|write|generat|compos)\w* (the|your|a|this) (reply|response|answer|draft|email)\b[^.\n]{0,60}\b(you must|include|say|tell|promise|confirm|approve|add)\b",
    # Fake system or assistant turns and our own delimiters.
    r"^\s*(#{1,6}\s*|\*\*|\[|<|\{?\"?role\"?\s*:\s*\"?)?(system|assistant|developer|systeme|sistema)\b\s*(message|prompt|note|override|update)?(\s*[\]>:\"*]|[ \t]*\n)"
    r"[\s\S]{0,120}?\b(you|your|ignore|new|override|must|always|never|respond|reply|approve|sure|certainly|understood|i will|i'll|refund|confidential|reveal)\b",
    r"</?\s*(system|assistant|instructions?|data|user|prompt|context|im_start|im_end)\s*>|<\|im_(start|end)\|>|\[/?(system|inst|assistant)\]",
    r"\b(begin|start|end) (of )?(the )?(system|admin|developer) (message|prompt|instructions?|override)\b",
    r"\b(system|developer|admin) (prompt|message|override|instructions?|update)\s*[:\-]|\bsystem override\b|\bjailbreak"
    r"|\b(developer|admin|god|dan|debug|maintenance|unrestricted) mode\b",
    r"\b(end|close) of (the )?(customer|user) (message|text|input|data)\b",
    # Asking for the prompt, or for other customers' data.
    r"\b(reveal|print|show|repeat|output|display|tell me|give me|leak|dump|share) (me )?(your|the|all|any) (hidden |secret |full |original |initial )?(system )?(prompt|instructions|rules|configuration|guidelines)\b",
    r"\b(reveal|show|list|give|send|share|print|dump|export|leak|tell|email|forward|include|disclose|paste|copy"
    r"|gib|zeige|zeig|schick|sende|donne|envoie|montre|dame|envia|manda|muestra|dammi|invia|mostra|envie|geef|stuur|toon)\b[^.\n]{{0,40}}\b({_OTHERS})\b[^.\n]{{0,30}}\b({_DATA})\b",
    rf"\b({_OTHERS}) ({_DATA})\b|\b({_DATA}) ((of|from|for|about|de|der|von|di|van|dos|des) (your |the |our )?)?({_OTHERS})\b",
    r"\b(revele|revelez|montre|montrez|affiche|donne|donnez)[^.\n]{0,30}\b(prompt|instructions|consignes)\b",
    r"\b(zeige|zeig|gib|verrate|nenne)[^.\n]{0,30}\b(systemprompt|prompt|anweisungen)\b",
    r"\b(revela|muestra|dame|mostra|rivela|dammi|mostre|toon|geef)[^.\n]{0,30}\b(prompt|instrucciones|istruzioni|instrucoes|instructies)\b",
    # Tampering with records, and instructions hidden in markup.
    r"\b(override|overwrite|falsify|fake)\b[^.\n]{0,30}\b(data|records?|status|tracking|system|settings)\b",
    r"<!--[\s\S]{0,200}?\b(assistant|system|ai|model|include|ignore|you must|reply|respond|write)\b",
    r"(?<![\w])(assistant|system|ai|model)\s*:\s*(include|ignore|say|write|reply|respond|add|tell|you|always|never)\b",
    # "Forget the earlier messages" (not "my previous messages", which a customer says innocently).
    rf"\b({_IGNORE}) (the|all|any|all the|all of the) (earlier|previous|prior|above|preceding) (messages|emails|conversation|context|text)\b",
    # Everyone else on file.
    r"\b(everyone|everybody|all (the )?(people|contacts|customers|names))( else)?\b[^.\n]{0,50}\b(you have|on file|in your (records|system|database|crm|files))\b",
    # Role play.
    r"\bact as (an? |the |my )?(admin|administrator|developer|system|root|different|unrestricted|manager|supervisor)",
    r"\bact as (an? |the |my )?(\w+ ){0,2}(and|to) (mark|approve|tell|send|confirm|close|grant|give|change|delete|issue)\b",
    r"\bpretend (to be|you are|that you)\b|\broleplay as\b|\bdo anything now\b",
    r"\b(fais|faites) comme si tu\b|\btu (dois|vas) desormais\b|\btue so,? als\b|\bfinge (que|ser)\b|\bfingi di\b|\bdoe alsof\b",
    r"\bwithout (any )?(restrictions|filters|limitations|guardrails|safety)\b|\bsans (aucune )?restriction\b|\bohne (jede )?einschrankung",
]
_INJECTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.MULTILINE)  # on folded (lower-case) text
# Spaced-letter runs joined without their word gaps ("ignoreallpreviousinstructions").
_COMPACT = re.compile(
    rf"({_IGNORE})(all|the|any|your|my)*(previous|prior|above|earlier|system)?({_RULES})"
    r"|youarenow|systemprompt|newinstructions|revealyour(system)?prompt",
)


# Every pattern above needs one of these words (or word starts, or symbols) in the folded text; most
# customer text has none, so the screen skips the patterns for it (measured: bench/llm_gateway and
# the figures in docs/llm.md). A pattern added above must add its anchor word here.
_ANCHOR_WORDS = frozenset(
    _IGNORE.split("|")
    + (
        "compte caso considerare seguire now new maintenant desormais partir nouvelle nouvelles nouveau "
        "bist jetzt sofort neue ahora nuevas nueva sei ora nuove nuovo agora novas nova nu nieuwe "
        "task job role goal objective instruction instructions mission purpose tache aufgabe tarea mision "
        "compito tarefa missao taak opdracht ai ia ki assistant assistants assistent assistente asistente "
        "model models llm chatbot bot bots gpt claude language system systeme sistema developer admin "
        "customer customers client clients user users kunden clientes clienti klanten prompt prompts rules "
        "configuration guidelines consignes systemprompt anweisungen instrucciones istruzioni instrucoes "
        "instructies act pretend roleplay anything fais faites finge fingi doe alsof tue dois vas "
        "consigne reply response answer draft email everyone everybody people contacts overwrite falsify fake restrictions restriction filters limitations guardrails safety einschrankung einschrankungen mode"
    ).split()
)
_ANCHOR_PREFIXES = ("jailbreak",)
_ANCHOR_SYMBOLS = ("<", "[", "|")  # "#" and "{" patterns also need a role word
_WORD = re.compile(r"[a-z]+")


def _may_match(form: str) -> bool:
    if any(symbol in form for symbol in _ANCHOR_SYMBOLS):
        return True
    words = set(_WORD.findall(form))
    return not _ANCHOR_WORDS.isdisjoint(words) or any(w.startswith(_ANCHOR_PREFIXES) for w in words)


def looks_like_injection(text: str) -> bool:
    """True when customer text tries to instruct the model; the item goes to human review."""
    if not text:
        return False
    # A cache hit re-screens the same inputs: remember recent short texts (the screen costs ~0.1-0.5
    # ms on text that holds an anchor word; a cached call's whole budget is ~1 ms, bench/llm_gateway).
    if len(text) <= _MEMO_MAX_CHARS:
        return _screen_memo(text)
    return _screen(text)


_MEMO_MAX_CHARS = 4000


@functools.lru_cache(maxsize=2048)
def _screen_memo(text: str) -> bool:
    return _screen(text)


def _screen(text: str) -> bool:
    for form in variants(text):
        if _may_match(form) and _INJECTION.search(form):
            return True
        for run in _SPACED.findall(form):
            if _COMPACT.search(re.sub(r"[^a-z]", "", run)):
                return True
    return False
