from django import forms

from nudges import context
from nudges.models import PlanFeedback, PromptTemplate


class PlanRequestForm(forms.Form):
    campaign_context = forms.CharField(
        required=False, max_length=500, label="Campaign context (optional)",
        widget=forms.TextInput(attrs={"placeholder": "e.g. Q4 product launch"}),
    )  # fmt: skip
    force_refresh = forms.BooleanField(required=False, label="Force refresh (ignore the cache)")


class UseItemForm(forms.Form):
    action = forms.ChoiceField(choices=[("send", "Send"), ("done", "Done"), ("discard", "Discard")])
    subject = forms.CharField(required=False, max_length=300)
    text = forms.CharField(required=False, max_length=20_000, widget=forms.Textarea(attrs={"rows": 10}))


class FeedbackForm(forms.Form):
    type = forms.ChoiceField(choices=PlanFeedback.Type.choices, widget=forms.RadioSelect)
    text = forms.CharField(required=False, max_length=4000, label="What happened")
    worked = forms.CharField(required=False, max_length=2000, label="What worked")
    didnt_work = forms.CharField(required=False, max_length=2000, label="What did not work")
    improvement = forms.CharField(required=False, max_length=2000, label="Suggested improvement")
    item = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)

    def clean(self):
        data = super().clean()
        if not any((data.get(k) or "").strip() for k in ("text", "worked", "didnt_work", "improvement")):
            raise forms.ValidationError("Say what happened: what worked, what did not, or an improvement.")
        return data


class ContextForm(forms.Form):
    """One textarea per section of the company context (built from the current version)."""

    title = forms.CharField(max_length=200)

    def __init__(self, *args, sections: dict, **kwargs):
        super().__init__(*args, **kwargs)
        # The seed's order, not the dict's: PostgreSQL's jsonb does not keep key order, and the
        # s0, s1, ... fields must name the same sections on the page and in the POST.
        self.section_names = context.ordered(sections)
        for i, name in enumerate(self.section_names):
            self.fields[f"s{i}"] = forms.CharField(
                label=name, required=False, max_length=20_000, initial=sections[name],
                widget=forms.Textarea(attrs={"rows": 4}),
            )  # fmt: skip

    def sections(self) -> dict:
        return {name: self.cleaned_data[f"s{i}"] for i, name in enumerate(self.section_names)}


class ContextImportForm(forms.Form):
    file = forms.FileField(label="Company context file (.md)")

    def clean_file(self):
        f = self.cleaned_data["file"]
        if f.size > 200_000:
            raise forms.ValidationError("The file is larger than 200,000 bytes.")
        try:
            return f.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError(f"The file is not UTF-8 text (byte {exc.start}).") from exc


class TemplateForm(forms.ModelForm):
    upload = forms.FileField(required=False, label="…or upload a template file")

    class Meta:
        model = PromptTemplate
        fields = ["name", "body", "is_active"]
        widgets = {"body": forms.Textarea(attrs={"rows": 12})}

    def __init__(self, *args, team=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team
        self.fields["body"].required = False

    def clean(self):
        from nudges import context

        data = super().clean()
        upload = data.get("upload")
        if upload:
            try:
                data["body"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                self.add_error("upload", "The file is not UTF-8 text.")
                return data
        problems = context.template_problems(data.get("body") or "")
        if problems:
            self.add_error("body", "Template refused: " + "; ".join(problems))
        if (
            self.team is not None
            and PromptTemplate.objects.filter(team=self.team, name=data.get("name"))
            .exclude(pk=self.instance.pk)
            .exists()
        ):
            self.add_error("name", "This team already has a template with this name.")
        return data


class PlanRunForm(forms.Form):
    """Plan my pipeline: which of your deals (team, stage, owner, stale only, how many) and the
    campaign context. Reps get no owner field: their run plans their own deals."""

    team = forms.ChoiceField()
    stage = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="All stages", to_field_name="slug", label="Stage"
    )
    owner = forms.ChoiceField(required=False, label="Owner")
    stale_only = forms.BooleanField(required=False, label="Only stale deals (with an open nudge)")
    campaign_context = forms.CharField(
        required=False, max_length=500, label="Campaign context (optional)",
        widget=forms.TextInput(attrs={"placeholder": "e.g. Q4 product launch"}),
    )  # fmt: skip
    limit = forms.IntegerField(required=False, min_value=1, max_value=1_000_000, label="At most (deals)")

    def __init__(self, *args, teams, owners=None, **kwargs):
        from crm.models import Stage

        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [(t.slug, t.name) for t in teams]
        self.fields["stage"].queryset = Stage.objects.all()
        if owners is None:
            del self.fields["owner"]
        else:
            self.fields["owner"].choices = [("", "Every owner")] + [
                (u.get_username(), u.get_username()) for u in owners
            ]
