from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, Q
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from crm import services, timeline
from crm.forms import AccountSearchForm, DealFilterForm, DealStageForm, NoteDealForm, NoteForm
from crm.models import Account, AuditEvent, Deal
from crm.navigation import SETTINGS_PAGES, links_for


def home(request):
    deals = Deal.objects.visible_to(request.user).open()
    return render(
        request,
        "crm/home.html",
        {
            "account_count": Account.objects.visible_to(request.user).count(),
            "open_deal_count": deals.count(),
            "my_deals": deals.filter(owner=request.user)
            .select_related("account", "stage")
            .order_by("last_activity_at")[:10],
        },
    )


@require_GET
def account_list(request):
    form = AccountSearchForm(request.GET)
    accounts = Account.objects.visible_to(request.user).select_related("team", "account_manager")
    if form.is_valid() and form.cleaned_data["q"]:
        q = form.cleaned_data["q"]
        accounts = accounts.filter(
            Q(name__icontains=q) | Q(industry__icontains=q) | Q(contacts__email__icontains=q)
        ).distinct()
    accounts = accounts.annotate(open_deals=Count("deals", filter=Q(deals__status=Deal.Status.OPEN), distinct=True))
    page = Paginator(accounts.order_by("name"), settings.CONSOLE_PAGE_SIZE).get_page(request.GET.get("page"))
    template = "crm/account_list.html#account-results" if request.htmx else "crm/account_list.html"
    return render(request, template, {"form": form, "page": page})


def _timeline_context(request, account):
    return {
        "account": account,
        "timeline": timeline.page(account, cursor=request.GET.get("cursor"), size=settings.CONSOLE_PAGE_SIZE),
    }


@require_GET
def account_detail(request, pk):
    account = get_object_or_404(
        Account.objects.visible_to(request.user).select_related("team", "account_manager"), pk=pk
    )
    context = _timeline_context(request, account)
    context.update(
        contacts=account.contacts.all(),
        deals=account.deals.select_related("stage", "owner"),
        orders=account.orders.all()[:5],
        audit_events=AuditEvent.objects.filter(account=account).select_related("actor", "content_type")[:10],
        note_form=NoteForm(),
    )
    return render(request, "crm/account_detail.html", context)


@require_GET
def account_timeline(request, pk):
    account = get_object_or_404(Account.objects.visible_to(request.user), pk=pk)
    return render(request, "crm/account_detail.html#timeline-page", _timeline_context(request, account))


@require_POST
def account_log_activity(request, pk):
    account = get_object_or_404(Account.objects.visible_to(request.user), pk=pk)
    form = NoteForm(request.POST)
    deal_form = NoteDealForm(request.POST, deals=Deal.objects.visible_to(request.user).filter(account=account))
    if not deal_form.is_valid():
        messages.error(request, "Could not log it: that is not a deal of this account.")
        return redirect(account.get_absolute_url())
    deal = deal_form.cleaned_data["deal"]
    if form.is_valid():
        services.log_activity(actor=request.user, account=account, deal=deal, **form.cleaned_data)
        messages.success(request, "Logged.")
    else:
        messages.error(request, "Could not log it: " + "; ".join(e for errs in form.errors.values() for e in errs))
    return redirect(deal.get_absolute_url() if deal else account.get_absolute_url())


@require_GET
def deal_list(request):
    form = DealFilterForm(request.GET)
    deals = Deal.objects.visible_to(request.user).select_related("account", "stage", "owner")
    if form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            deals = deals.filter(Q(name__icontains=data["q"]) | Q(account__name__icontains=data["q"]))
        if data["stage"]:
            deals = deals.filter(stage=data["stage"])
        if data["status"]:
            deals = deals.filter(status=data["status"])
        if data["mine"]:
            deals = deals.filter(owner=request.user)
    page = Paginator(deals.order_by("-amount", "pk"), settings.CONSOLE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "crm/deal_list.html", {"form": form, "page": page})


@require_GET
def deal_detail(request, pk):
    deal = get_object_or_404(
        Deal.objects.visible_to(request.user).select_related("account", "stage", "owner", "primary_contact"), pk=pk
    )
    return render(
        request,
        "crm/deal_detail.html",
        {
            "deal": deal,
            "activities": deal.activities.select_related("contact")[:50],
            "stage_form": DealStageForm(initial={"stage": deal.stage}),
            "note_form": NoteForm(),
        },
    )


@require_POST
def deal_change_stage(request, pk):
    deal = get_object_or_404(Deal.objects.visible_to(request.user), pk=pk)
    form = DealStageForm(request.POST)
    if form.is_valid():
        services.change_deal_stage(actor=request.user, deal=deal, stage=form.cleaned_data["stage"])
        messages.success(request, f"Moved to {deal.stage}.")
    else:
        messages.error(request, "Choose a valid stage.")
    return redirect(deal)


@require_GET
def settings_index(request):
    """Settings home: the settings pages (crm/navigation.py) this user may open."""
    return render(request, "crm/settings_index.html", {"settings_pages": links_for(request.user, SETTINGS_PAGES)})


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """Liveness for load balancers and compose: database and broker state."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report any failure, never raise from a health check
        checks["database"] = f"error: {exc.__class__.__name__}"
    if settings.REDIS_URL:
        try:
            import redis

            redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
            checks["broker"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["broker"] = f"error: {exc.__class__.__name__}"
    else:
        checks["broker"] = "in-process (no REDIS_URL)"
    healthy = all(v == "ok" or v.startswith("in-process") for v in checks.values())
    return JsonResponse({"status": "ok" if healthy else "degraded", **checks}, status=200 if healthy else 503)


@login_not_required
@require_GET
def favicon(request):
    """/favicon.ico for pages that carry no `<link rel=icon>` (admin, the browsable API)."""
    return redirect(static("favicon.svg"), permanent=True)
