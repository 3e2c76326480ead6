from __future__ import annotations

from django import forms

from knowledge.ingest import READERS


class ImportForm(forms.Form):
    source = forms.ChoiceField(choices=[(name, name) for name in READERS])
    file = forms.FileField(
        help_text="bitext: responses.csv · abcd: guidelines.json · jsonl: one article per line · "
        "markdown: a .md/.txt file or a .zip of them"
    )


class TestSearchForm(forms.Form):
    q = forms.CharField(label="Query", max_length=2000)
    limit = forms.IntegerField(min_value=1, max_value=50, initial=10)
    intent = forms.CharField(required=False, help_text="optional: boost this intent")
