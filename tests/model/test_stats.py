"""simulation.model.stats: quantiles of presorted columns equal numpy's, bit for bit."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from simulation.model.stats import quantiles_of_sorted

finite = st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 60), st.integers(1, 4)), elements=finite),
       st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_equals_numpy_linear_quantile(x, q):
    assert np.array_equal(quantiles_of_sorted(np.sort(x, axis=0), q), np.quantile(x, q, axis=0))


def test_the_dashboards_quantiles_and_a_scalar():
    x = np.random.default_rng(3).normal(size=(20_000, 5)) * 1e7
    s = np.sort(x, axis=0)
    q = np.linspace(0, 1, 401)
    assert np.array_equal(quantiles_of_sorted(s, q), np.quantile(x, q, axis=0))
    assert np.array_equal(quantiles_of_sorted(s, [0.05, 0.95]), np.percentile(x, [5, 95], axis=0))
    assert quantiles_of_sorted(s[:, 0], 0.5) == np.median(x[:, 0])


@pytest.mark.parametrize("q", [-0.1, 1.5, float("nan")])
def test_refuses_probabilities_outside_0_1(q):
    with pytest.raises(ValueError, match="between 0 and 1"):
        quantiles_of_sorted(np.arange(3.0), [q])
