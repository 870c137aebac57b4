"""`manage.py ask "QUESTION" [--user USERNAME] [--json]`: the co-pilot from a terminal, with the
steps as they happen, the answer and its citations. Sees what USERNAME may see (default: the only
superuser, or the demo user)."""

import json as jsonlib

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from assistant import services
from assistant.serializers import AssistantMessageSerializer
from crm.errors import ServiceError


class Command(BaseCommand):
    help = "Ask the sales co-pilot a question."

    def add_arguments(self, parser):
        parser.add_argument("question")
        parser.add_argument("--user", default="demo", help="Answer as this user (their teams' records only).")
        parser.add_argument("--json", action="store_true", help="Print the stored answer as JSON.")

    def handle(self, *args, question, user, **options):
        asker = get_user_model().objects.filter(username=user).first()
        if asker is None:
            raise CommandError(f"No user called {user!r}.", returncode=2)
        as_json = options["json"]
        emit = None if as_json else (lambda e: self.stdout.write(f"  · {e['text']}") if e["event"] == "step" else None)
        try:
            message = services.ask(user=asker, question=question, emit=emit)
        except ServiceError as exc:
            raise CommandError(exc.message, returncode=2) from None
        if as_json:
            self.stdout.write(_dumps(AssistantMessageSerializer(message).data))
            return
        self.stdout.write("")
        for s in message.sentences:
            refs = "".join(f"[{r}]" for r in s.get("refs", []))
            self.stdout.write(f"{s['text']}{refs}")
        if message.citations:
            self.stdout.write("\nCitations:")
            for c in message.citations:
                value = f" · {c['value']}" if c["kind"] == "field" else ""
                self.stdout.write(f"  [{c['n']}] {c['label']}{value}  ({c['url']})")
        verdict = "checked: every statement supported" if message.verdict.get("ok") else "partly supported"
        offline = ", offline" if message.offline else ""
        self.stdout.write(self.style.SUCCESS(f"\n({verdict}; retries {message.retries}{offline})"))


def _dumps(data) -> str:
    return jsonlib.dumps(data, ensure_ascii=False, indent=2, default=str)
