from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts_security import tokens


class Command(BaseCommand):
    help = "List, issue and revoke API tokens. Revoked tokens get 401 from the next call on."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="every token: user, created, expires, expired")
        issue = sub.add_parser("issue", help="issue (or show the live) token of a user")
        issue.add_argument("username")
        issue.add_argument("--days", type=int, help="lifetime in days (default API_TOKEN_LIFETIME_DAYS)")
        revoke = sub.add_parser("revoke", help="delete tokens")
        who = revoke.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", help="the token of this username")
        who.add_argument("--key", help="the token with this key")
        who.add_argument("--expired", action="store_true", help="every expired token")
        who.add_argument("--all", action="store_true", help="every token (all API clients must sign in again)")

    def handle(self, *args, action, **options):
        if action == "list":
            return self._list()
        if action == "issue":
            return self._issue(options["username"], options["days"])
        return self._revoke(options)

    def _list(self):
        now = timezone.now()
        rows = Token.objects.select_related("user", "expiry").order_by("user__username")
        for token in rows:
            expires = tokens.expires_at(token)
            state = "expired" if expires <= now else "live"
            self.stdout.write(
                f"{token.user.get_username():<20} {token.key[:8]}…  created {token.created:%Y-%m-%d %H:%M}  "
                f"expires {expires:%Y-%m-%d %H:%M}  {state}"
            )
        self.stdout.write(f"{rows.count()} token(s)")

    def _issue(self, username, days):
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        token, expires = tokens.issue_token(user, lifetime=timedelta(days=days) if days else None)
        self.stdout.write(f"{token.key} expires {expires:%Y-%m-%d %H:%M %Z}")

    def _revoke(self, options):
        queryset = Token.objects.all()
        if options["user"]:
            queryset = queryset.filter(user__username=options["user"])
        elif options["key"]:
            queryset = queryset.filter(key=options["key"])
        elif options["expired"]:
            now = timezone.now()
            ids = [t.pk for t in queryset.select_related("expiry") if tokens.expires_at(t) <= now]
            queryset = Token.objects.filter(pk__in=ids)
        count = tokens.revoke(queryset)
        self.stdout.write(f"revoked {count} token(s)")
