from django import forms
from django.conf import settings

from crm.models import Activity, Stage, Team
from nudges.models import Nudge, NudgeSettings, Warning

ACTIONS = [("done", "Done"), ("snooze", "Snooze"), ("dismiss", "Dismiss")]
DONE_KINDS = [(k, label) for k, label in Activity.Kind.choices if k in ("note", "call", "email", "meeting")]


class NudgeFilterForm(forms.Form):
    warning = forms.ChoiceField(choices=[("", "All warnings"), *Warning.choices], required=False)
    stage = forms.ModelChoiceField(
        queryset=Stage.objects.all(), required=False, empty_label="All stages", to_field_name="slug"
    )
    mine = forms.BooleanField(required=False, label="Only my deals")


class NudgeActionForm(forms.Form):
    action = forms.ChoiceField(choices=ACTIONS)
    reason = forms.CharField(required=False, max_length=300)
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(choices=DONE_KINDS, required=False)
    note = forms.CharField(required=False, max_length=2000)

    def clean(self):
        data = super().clean()
        action = data.get("action")
        if action == "snooze":
            if not data.get("until"):
                self.add_error("until", "Choose the date to snooze until.")
            if not (data.get("reason") or "").strip():
                self.add_error("reason", "Say why the deal is paused.")
        if action == "dismiss" and not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why you dismiss this nudge.")
        return data


class TeamChoiceMixin:
    def limit_teams(self, user):
        self.fields["team"].queryset = Team.objects.visible_to(user)


class ImportForm(TeamChoiceMixin, forms.Form):
    team = forms.ModelChoiceField(queryset=Team.objects.none(), help_text="Imported deals belong to this team.")
    crm_events = forms.FileField(required=False, label="crm_events.csv")
    emails = forms.FileField(required=False, label="emails.json")
    dry_run = forms.BooleanField(required=False, label="Dry run", help_text="Check and count, write nothing.")
    strict = forms.BooleanField(
        required=False, label="Strict", help_text="All or nothing: one bad row and nothing is written."
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit_teams(user)

    def clean(self):
        data = super().clean()
        if not data.get("crm_events") and not data.get("emails"):
            raise forms.ValidationError("Choose crm_events.csv, emails.json or both.")
        for name in ("crm_events", "emails"):
            f = data.get(name)
            if f is not None and f.size > settings.NUDGES_IMPORT_MAX_BYTES:
                self.add_error(name, f"The file is larger than {settings.NUDGES_IMPORT_MAX_BYTES} bytes.")
        return data


class NudgeSettingsForm(forms.ModelForm):
    class Meta:
        model = NudgeSettings
        fields = [
            "min_idle_days",
            "min_urgency",
            "no_activity_enabled",
            "ghosted_enabled",
            "ghost_factor",
            "ghost_min_hours",
            "next_step_overdue_enabled",
            "next_step_grace_days",
            "stalled_in_stage_enabled",
            "stalled_in_stage_days",
            "single_threaded_enabled",
            "single_threaded_min_amount",
        ]

    def clean_ghost_factor(self):
        value = self.cleaned_data["ghost_factor"]
        if value <= 0:
            raise forms.ValidationError("k must be above 0.")
        return value

    def clean_min_urgency(self):
        value = self.cleaned_data["min_urgency"]
        if value < 0:
            raise forms.ValidationError("Urgency cannot be negative.")
        return value


__all__ = ["ImportForm", "Nudge", "NudgeActionForm", "NudgeFilterForm", "NudgeSettingsForm"]
