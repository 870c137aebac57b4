from django import forms
from django.conf import settings

from crm.models import Team


class AskForm(forms.Form):
    question = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), strip=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # No max_length on the field: an over-long question gets the service's message, which
        # says the limit and the length, rather than a generic one.
        self.fields["question"].widget.attrs["maxlength"] = settings.ASSISTANT_MAX_QUESTION_CHARS


class RateForm(forms.Form):
    helpful = forms.TypedChoiceField(choices=[("1", "Helpful"), ("0", "Not helpful")], coerce=lambda v: v == "1")
    reason = forms.CharField(required=False, max_length=500)


class PlaybookForm(forms.Form):
    team = forms.ModelChoiceField(queryset=Team.objects.none())
    title = forms.CharField(required=False, max_length=200, help_text="Defaults to the file name.")
    file = forms.FileField(help_text="PDF with a text layer, Markdown (.md) or plain text.")

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
        if teams.count() == 1:
            self.fields["team"].initial = teams.first()
