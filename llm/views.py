from django.shortcuts import render


def usage(request):
    return render(request, "llm/usage.html", {})
