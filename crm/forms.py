from django import forms

from crm.models import Activity, Deal, Stage


class AccountSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search")


class DealFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search")
    stage = forms.ModelChoiceField(queryset=Stage.objects.all(), required=False, empty_label="All stages")
    status = forms.ChoiceField(choices=[("", "All statuses"), *Deal.Status.choices], required=False)
    mine = forms.BooleanField(required=False, label="Only my deals")


class DealStageForm(forms.Form):
    stage = forms.ModelChoiceField(queryset=Stage.objects.all())


class NoteForm(forms.ModelForm):
    class Meta:
        model = Activity
        fields = ["kind", "subject", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [
            (k, label) for k, label in Activity.Kind.choices if k in ("note", "call", "meeting")
        ]
        self.fields["body"].required = True


class NoteDealForm(forms.Form):
    """The optional deal a console note is logged on: an id that is not a number, or not a deal of
    this account the user sees, is a form error (it was a 500 for "abc")."""

    deal = forms.ModelChoiceField(queryset=Deal.objects.none(), required=False)

    def __init__(self, *args, deals, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["deal"].queryset = deals
