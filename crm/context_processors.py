import llm


def console(request):
    """Navigation state for base.html."""
    match = getattr(request, "resolver_match", None)
    return {
        "nav_section": match.namespace if match else "",
        # True when the gateway answers with its offline writers (no provider configured).
        "ai_offline": llm.provider_name() == "offline",
    }
