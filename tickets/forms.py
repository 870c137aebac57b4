from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from crm.models import Account, Contact
from tickets.models import Channel, Difficulty, Priority, Ticket, WeightSet


class InboxFilterForm(forms.Form):
    status = forms.ChoiceField(choices=Ticket.Status.choices, required=False, initial="open")
    channel = forms.ChoiceField(choices=[("", "All channels"), *Channel.choices], required=False)
    team = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, choices=())
    assignee = forms.ChoiceField(required=False, choices=())
    cursor = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, data=None, *, teams=(), people=(), **kwargs):
        super().__init__(data, **kwargs)
        self.fields["team"].choices = [("", "All my teams"), *teams]
        self.fields["assignee"].choices = [
            ("", "Anyone"),
            ("me", "Me"),
            ("none", "Unassigned"),
            *[(str(pk), name) for pk, name in people],
        ]


class TopicAlertForm(forms.Form):
    text = forms.CharField(
        label="Topic alerts",
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": "chargeback, fraud, unauthorized"}),
        help_text="Comma-separated words or two-word phrases. Matching tickets jump up the inbox.",
    )
    expires_in_hours = forms.IntegerField(
        label="Expires after (hours)", required=False, min_value=1, max_value=24 * 90, help_text="Blank: until cleared."
    )

    def expires_at(self):
        hours = self.cleaned_data.get("expires_in_hours")
        return timezone.now() + timedelta(hours=hours) if hours else None


class TriageForm(forms.Form):
    sentiment = forms.FloatField(min_value=0, max_value=1, required=False, help_text="0 angry .. 1 delighted")
    category = forms.CharField(max_length=40, required=False)
    difficulty = forms.ChoiceField(choices=[("", "Unknown"), *Difficulty.choices], required=False)
    language = forms.CharField(max_length=10, required=False)

    def changes(self, ticket: Ticket) -> dict:
        """Only fields whose value differs from the ticket's: those become agent-locked."""
        out = {}
        for name in Ticket.TRIAGE_FIELDS:
            value = self.cleaned_data.get(name)
            if value in (None, "") and name == "sentiment":
                value = None
            if value != getattr(ticket, name):
                out[name] = value if value is not None else (None if name == "sentiment" else "")
        return out


class ReplyForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), required=False, strip=False)
    idempotency_key = forms.CharField(max_length=200, widget=forms.HiddenInput)
    draft = forms.IntegerField(required=False, widget=forms.HiddenInput)
    resend = forms.BooleanField(required=False, label="Send even if the same text went out in the last minutes")


class RegenerateForm(forms.Form):
    instruction = forms.CharField(
        max_length=500, required=False, widget=forms.TextInput(attrs={"placeholder": "e.g. shorter, apologise"})
    )


class FollowUpForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=60, initial=2, label="Resurface if no reply in (days)")
    note = forms.CharField(max_length=300, required=False)


class EscalateForm(forms.Form):
    reason = forms.CharField(max_length=300)


class TicketUpdateForm(forms.Form):
    status = forms.ChoiceField(choices=Ticket.Status.choices)
    priority = forms.ChoiceField(choices=Priority.choices)
    assignee = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False)
    resolution = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args, team_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = get_user_model().objects.filter(memberships__team_id=team_id)


class NewTicketForm(forms.Form):
    account = forms.ModelChoiceField(queryset=Account.objects.none())
    contact = forms.ModelChoiceField(queryset=Contact.objects.none(), required=False)
    channel = forms.ChoiceField(choices=Channel.choices)
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.NORMAL)
    subject = forms.CharField(max_length=300)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), label="Customer's message")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = Account.objects.visible_to(user).order_by("name")
        self.fields["contact"].queryset = Contact.objects.visible_to(user)

    def clean(self):
        data = super().clean()
        if data.get("contact") and data.get("account") and data["contact"].account_id != data["account"].pk:
            self.add_error("contact", "This contact belongs to another account.")
        return data


class WeightSetForm(forms.ModelForm):
    class Meta:
        model = WeightSet
        fields = [*WeightSet.FIELDS, "note"]
        help_texts = {
            "churn": "× churn risk (0–1)",
            "value": "× lifetime value / 1000",
            "urgency": "× urgency (urgent 4, high 3, normal 1, low 0.5)",
            "age": "× share of the response target used",
            "age_cap": "the age share stops growing here (2 = twice the target)",
            "easy_bonus": "added for easy wins",
            "complex_penalty": "added for complex issues (negative pushes them down)",
            "sentiment_boost": "added when sentiment is below the threshold",
            "sentiment_threshold": "0 angry .. 1 delighted",
            "topic_alert_boost": "added when a ticket matches the agent's topic alert",
        }

    def clean(self):
        data = super().clean()
        for name in ("age_cap", "sentiment_threshold"):
            if data.get(name) is not None and data[name] < 0:
                self.add_error(name, "Must be zero or more.")
        for name in WeightSet.FIELDS:
            value = data.get(name)
            if value is not None and abs(value) > 1000:
                self.add_error(name, "Keep weights between -1000 and 1000.")
        return data
