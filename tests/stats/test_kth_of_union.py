"""The exact percentile's last step: the k-th of a bucket's facts and extra values, from a window of the facts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from backend.stats.rollup import kth_of_union

values = st.lists(st.integers(min_value=0, max_value=50).map(float), max_size=40)


@given(values, values, st.data())
def test_the_kth_of_facts_and_extra_values_is_read_from_the_window(facts: list[float], extra: list[float],
                                                                   data: st.DataObject) -> None:
    facts, extra = sorted(facts), sorted(extra)
    if not facts + extra:
        return
    k = data.draw(st.integers(min_value=1, max_value=len(facts) + len(extra)))
    low = max(0, k - 1 - len(extra))
    window = facts[low:k]  # what PostgreSQL sends: OFFSET low LIMIT k - low of the facts in value order
    assert kth_of_union(k, low, window, extra) == sorted(facts + extra)[k - 1]
