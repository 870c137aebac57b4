from django.conf import settings


def console(request):
    """Navigation state for base.html."""
    match = getattr(request, "resolver_match", None)
    return {
        "nav_section": match.namespace if match else "",
        "ai_offline": not (getattr(settings, "ANTHROPIC_API_KEY", "") or getattr(settings, "LLM_BASE_URL", "")),
    }
