from django import forms

from notifications import segments
from notifications.models import NotificationSettings

PRIORITIES = [("", "All priorities"), ("High", "Critical"), ("Medium", "Important"), ("Low", "Routine")]


class FilterForm(forms.Form):
    priority = forms.ChoiceField(choices=PRIORITIES, required=False)
    segment = forms.CharField(required=False, max_length=100)


class DraftForm(forms.Form):
    subject = forms.CharField(max_length=300, required=False)
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), required=False, max_length=5000)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented recipe)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(d, initial) for d in data]
        return [super().clean(data, initial)] if data else []


class ImportForm(forms.Form):
    files = MultipleFileField(
        widget=MultipleFileInput(attrs={"multiple": True, "accept": ".csv,text/csv"}),
        help_text="The five CSV files (or any of them).",
        required=False,
    )
    dry_run = forms.BooleanField(required=False, label="Dry run: show what would change, write nothing")
    strict = forms.BooleanField(required=False, label="Strict: any rejected row refuses the whole import")


class SettingsForm(forms.ModelForm):
    class Meta:
        model = NotificationSettings
        fields = ["focus_segment", "segment_rules"]
        widgets = {"segment_rules": forms.Textarea(attrs={"rows": 10, "spellcheck": "false"})}
        help_texts = {
            "focus_segment": "Analyse & generate runs on this segment only (saves model cost).",
            "segment_rules": "One rule a line, 'Segment: field op value and ...'; the first match wins. "
            f"Fields: {', '.join(sorted(segments.FIELDS))}.",
        }

    def clean_segment_rules(self):
        text = self.cleaned_data["segment_rules"]
        try:
            rules = segments.parse_rules(text)
        except segments.RuleError as exc:
            raise forms.ValidationError(str(exc)) from None
        if not rules:
            raise forms.ValidationError("Write at least one rule.")
        return text

    def clean(self):
        data = super().clean()
        text, focus = data.get("segment_rules"), data.get("focus_segment")
        if text and focus and focus not in segments.segment_names(segments.parse_rules(text)):
            self.add_error("focus_segment", f"No rule defines the segment {focus!r}.")
        return data
