import llm
from crm.navigation import NAV, links_for, section


def console(request):
    """Navigation state for base.html: the nav links this user may open, and the current section
    (the request path's first segment; a nav link is current when its own path starts the same)."""
    user = getattr(request, "user", None)
    return {
        "nav_links": links_for(user, NAV) if user is not None and user.is_authenticated else [],
        "nav_section": section(request.path),
        # True when the gateway answers with its offline writers (no provider configured).
        "ai_offline": llm.provider_name() == "offline",
    }
