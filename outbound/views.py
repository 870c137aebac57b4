"""Deliveries: recent sends and the ones a person must look at, with retry and confirm (htmx)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from outbound import services
from outbound.models import Delivery

PAGE_SIZE = 100  # the page shows the newest rows; the API pages through all of them


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), ("attention", "Needs attention"), *Delivery.Status.choices]
    )
    channel = forms.ChoiceField(
        required=False, choices=[("", "Any channel"), *Delivery._meta.get_field("channel").choices]
    )


@require_GET
def delivery_list(request):
    form = DeliveryFilterForm(request.GET or None)
    rows = Delivery.objects.visible_to(request.user).select_related("team", "contact", "resolved_by")
    if form.is_valid():
        wanted = form.cleaned_data["status"]
        if wanted == "attention":
            rows = rows.attention()
        elif wanted:
            rows = rows.filter(status=wanted)
        if form.cleaned_data["channel"]:
            rows = rows.filter(channel=form.cleaned_data["channel"])
    attention = Delivery.objects.visible_to(request.user).attention().count()
    return render(
        request,
        "outbound/delivery_list.html",
        {"form": form, "deliveries": rows.order_by("-created_at", "-id")[:PAGE_SIZE], "attention": attention},
    )


def _row(request, pk) -> Delivery:
    return get_object_or_404(Delivery.objects.visible_to(request.user).select_related("team", "contact"), pk=pk)


def _answer(request, delivery: Delivery):
    if request.htmx:
        delivery = _row(request, delivery.pk)
        return render(request, "outbound/delivery_list.html#delivery-row", {"d": delivery})
    return redirect("outbound:list")


@require_POST
def retry(request, pk):
    delivery = _row(request, pk)
    if services.retry_delivery(actor=request.user, delivery=delivery):
        messages.success(request, f"Delivery {delivery.key} queued again.")
    else:
        messages.error(request, "Only a failed or uncertain delivery can be sent again.")
    return _answer(request, delivery)


@require_POST
def confirm(request, pk):
    delivery = _row(request, pk)
    if services.confirm_sent(actor=request.user, delivery=delivery):
        messages.success(request, f"Delivery {delivery.key} recorded as sent.")
    else:
        messages.error(request, "Only an uncertain delivery can be confirmed.")
    return _answer(request, delivery)
