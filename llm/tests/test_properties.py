"""Properties of the pure input handling, over generated inputs."""

from hypothesis import given, settings
from hypothesis import strategies as st

from llm.prompting import render_user, trim_values

names = st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True)
values = st.dictionaries(names, st.text(max_size=3000), max_size=6)


@settings(max_examples=150, deadline=None)
@given(values=values, budget=st.integers(min_value=1000, max_value=8000))
def test_trimmed_inputs_fit_the_budget_and_short_ones_stay_whole(values, budget):
    trimmed = trim_values(values, budget)
    assert sum(len(v) for v in trimmed.values.values()) <= budget
    assert set(trimmed.values) == set(values)
    for name, value in values.items():
        if name not in trimmed.removed:
            assert trimmed.values[name] == value
        else:
            assert trimmed.removed[name] > 0 and "characters trimmed" in trimmed.values[name]
    if sum(len(v) for v in values.values()) <= budget:
        assert trimmed.removed == {}


@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("<>/datbody xyz\n")), max_size=200))
def test_customer_text_never_closes_or_opens_a_data_block(text):
    rendered = render_user("Reply.", {"body": text})
    assert rendered.count("<data>") == 1 and rendered.count("</data>") == 1
    assert rendered.count("<body>") == 1 and rendered.count("</body>") == 1
    assert rendered.endswith("</body>\n</data>")
