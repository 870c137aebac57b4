from datetime import timedelta

from django import forms

from llm import usage

MAX_RANGE_DAYS = 366  # one year of daily rows is the most a page or API answer carries


class UsageFilterForm(forms.Form):
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    feature = forms.CharField(required=False, max_length=100, help_text="e.g. tickets.draft")

    def clean(self):
        data = super().clean()
        since, until = usage.default_range()
        data["since"] = data.get("since") or (data.get("until") or until) - timedelta(days=13)
        data["until"] = data.get("until") or max(until, data["since"])
        if data["since"] > data["until"]:
            self.add_error("since", "Must be on or before the end date.")
        elif (data["until"] - data["since"]).days >= MAX_RANGE_DAYS:
            self.add_error("since", f"Choose at most {MAX_RANGE_DAYS} days.")
        return data
