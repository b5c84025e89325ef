from django import forms

from htc_app.forms import BidiForm
from projects.models import Role


class ProjectForm(BidiForm):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    multi_path = forms.BooleanField(required=False, label="Documents may have several gold paths")


class MemberForm(BidiForm):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices)
