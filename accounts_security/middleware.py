from django.conf import settings
from django.utils.deprecation import MiddlewareMixin


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    """Sends CONTENT_SECURITY_POLICY on every response that does not set its own.

    Django 5.2 has no CSP support built in, and one header needs no dependency. The policy allows
    scripts from our own origin only (htmx and the vendored files are served from /static/), so
    an injected <script> or on*= attribute does not run even if escaping were ever missed.
    MiddlewareMixin keeps it usable from async views (the nudge stream) without a thread hop."""

    def process_response(self, request, response):
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response
