import datetime as dt
from datetime import timedelta

from django import forms

from llm import usage

MAX_RANGE_DAYS = 366  # one year of daily rows is the most a page or API answer carries
DEFAULT_DAYS = 14


class UsageFilterForm(forms.Form):
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    feature = forms.CharField(required=False, max_length=100, help_text="e.g. tickets.draft")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        _, today = usage.default_range()
        until, since = data.get("until"), data.get("since")
        try:
            if until is None:
                until = max(today, since) if since else today
            if since is None:
                since = until - timedelta(days=DEFAULT_DAYS - 1)
        except OverflowError:  # 0001-01-02 minus 14 days
            since = dt.date.min
        data["since"], data["until"] = since, until
        if since > until:
            self.add_error("since", "Must be on or before the end date.")
        elif (until - since).days >= MAX_RANGE_DAYS:
            self.add_error("since", f"Choose at most {MAX_RANGE_DAYS} days.")
        return data
