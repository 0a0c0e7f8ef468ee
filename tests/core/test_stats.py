"""The statistics behind the template-variant comparison: known values, closed forms and properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cadence.core.stats import (
    CHI_SQUARE_TEST,
    Z_TEST,
    Variant,
    chi2_sf,
    chi_square_homogeneity,
    compare_variants,
    gammaincc,
    normal_sf,
    two_proportion_z_test,
)


@pytest.mark.parametrize(
    ("x", "df", "expected", "tolerance"),
    [
        # The 5% critical values of statistics tables, as printed (rounded to two decimals) ...
        (3.84, 1, 0.05, 1e-3),
        (5.99, 2, 0.05, 1e-3),
        (7.81, 3, 0.05, 1e-3),
        (9.49, 4, 0.05, 1e-3),
        # ... and to full precision: exactly 0.05.
        (3.841458820694124, 1, 0.05, 1e-12),
        (5.991464547107979, 2, 0.05, 1e-12),
        (7.814727903251178, 3, 0.05, 1e-12),
        (6.634896601021214, 1, 0.01, 1e-12),
        (10.827566170662733, 1, 0.001, 1e-12),
        # Known values of chi2.sf.
        (1.0, 1, 0.31731050786291415, 1e-12),
        (10.0, 4, 0.040427681994512805, 1e-12),
        (100.0, 3, 1.5541594313896e-21, 1e-30),
        (0.0, 5, 1.0, 0.0),
    ],
)
def test_the_chi_square_survival_function_matches_the_tables(
    x: float, df: int, expected: float, tolerance: float
) -> None:
    assert chi2_sf(x, df) == pytest.approx(expected, abs=tolerance)


def closed_form_chi2_sf(x: float, df: int) -> float:
    """chi2.sf for df 1 and 3 (through erfc) and for even df (a finite Poisson sum)."""
    if df == 1:
        return math.erfc(math.sqrt(x / 2))
    if df == 3:
        return math.erfc(math.sqrt(x / 2)) + math.sqrt(2 * x / math.pi) * math.exp(-x / 2)
    assert df % 2 == 0
    return math.exp(-x / 2) * sum((x / 2) ** i / math.factorial(i) for i in range(df // 2))


@given(st.floats(min_value=1e-6, max_value=200.0), st.sampled_from([1, 2, 3, 4, 6, 10]))
def test_the_chi_square_survival_function_agrees_with_its_closed_forms(x: float, df: int) -> None:
    assert chi2_sf(x, df) == pytest.approx(closed_form_chi2_sf(x, df), rel=1e-9, abs=1e-300)


@given(st.floats(min_value=0.01, max_value=500.0), st.floats(min_value=0.0, max_value=1000.0))
def test_the_incomplete_gamma_function_is_a_probability_that_falls_as_x_grows(a: float, x: float) -> None:
    q = gammaincc(a, x)
    assert 0.0 <= q <= 1.0
    assert gammaincc(a, x + 1.0) <= q


def test_the_incomplete_gamma_function_refuses_values_outside_its_domain() -> None:
    with pytest.raises(ValueError, match="a > 0"):
        gammaincc(0.0, 1.0)
    with pytest.raises(ValueError, match="x >= 0"):
        gammaincc(1.0, -1.0)
    with pytest.raises(ValueError, match="df >= 1"):
        chi2_sf(1.0, 0)
    assert gammaincc(2.0, math.inf) == 0.0


def test_the_normal_survival_function_has_its_known_values() -> None:
    assert normal_sf(0.0) == 0.5
    assert normal_sf(1.959963984540054) == pytest.approx(0.025, abs=1e-12)
    assert normal_sf(-1.0) == pytest.approx(0.8413447460685429, abs=1e-12)


@pytest.mark.parametrize(
    ("a", "n_a", "b", "n_b", "z", "p"),
    [
        # Hand computation: pooled rate 2/6 = 1/3; se = sqrt(1/3 * 2/3 * (1/4 + 1/2)) = sqrt(1/6);
        # z = (2/4 - 0/2) / sqrt(1/6) = sqrt(1.5) = 1.2247; p = erfc(1.2247 / sqrt 2) = 0.2207.
        (2, 4, 0, 2, math.sqrt(1.5), 0.22067136191984688),
        # 20/40 against 8/40: pooled 28/80 = 0.35; se = sqrt(0.35 * 0.65 * 2/40) = 0.10665;
        # z = 0.3 / 0.10665 = 2.8128; p = 2 * (1 - Phi(2.8128)) = 0.0049106.
        (20, 40, 8, 40, 0.3 / math.sqrt(0.35 * 0.65 * 2 / 40), 0.0049106),
        # The same rates: no difference at all.
        (10, 50, 20, 100, 0.0, 1.0),
        # No reply anywhere: no evidence of a difference.
        (0, 30, 0, 30, 0.0, 1.0),
    ],
)
def test_the_two_proportion_z_test_gives_the_hand_computed_values(
    a: int, n_a: int, b: int, n_b: int, z: float, p: float
) -> None:
    result = two_proportion_z_test(a, n_a, b, n_b)
    assert result.test == Z_TEST
    assert result.statistic == pytest.approx(z, abs=1e-9)
    assert result.p_value == pytest.approx(p, abs=1e-6)


def test_the_chi_square_test_gives_the_hand_computed_values_for_three_variants() -> None:
    # Replies 10/50, 20/50, 30/50: pooled 60/150 = 0.4, expected 20 replies and 30 silences each;
    # chi2 = (100/20 + 100/30) + 0 + (100/20 + 100/30) = 16.667 with 2 df; p = exp(-16.667/2) = 0.000240.
    result = chi_square_homogeneity([10, 20, 30], [50, 50, 50])
    assert result.test == CHI_SQUARE_TEST
    assert result.df == 2
    assert result.statistic == pytest.approx(50 / 3, abs=1e-9)
    assert result.p_value == pytest.approx(math.exp(-25 / 3), rel=1e-9)


def test_the_tests_refuse_impossible_counts() -> None:
    with pytest.raises(ValueError, match="at least one trial"):
        two_proportion_z_test(0, 0, 1, 2)
    with pytest.raises(ValueError, match="between 0 and"):
        chi_square_homogeneity([3, 1], [2, 2])
    with pytest.raises(ValueError, match="two groups or more"):
        chi_square_homogeneity([1], [2])


counts = st.integers(min_value=1, max_value=5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@given(st.lists(counts, min_size=2, max_size=6))
def test_every_p_value_is_a_probability(groups: list[tuple[int, int]]) -> None:
    result = chi_square_homogeneity([s for s, _ in groups], [n for _, n in groups])
    assert 0.0 <= result.p_value <= 1.0
    assert result.statistic >= 0.0


@given(counts, counts)
def test_with_two_variants_the_z_test_and_the_chi_square_test_agree(a: tuple[int, int], b: tuple[int, int]) -> None:
    z = two_proportion_z_test(a[0], a[1], b[0], b[1])
    chi = chi_square_homogeneity([a[0], b[0]], [a[1], b[1]])
    assert 0.0 <= z.p_value <= 1.0
    assert chi.statistic == pytest.approx(z.statistic**2, rel=1e-9, abs=1e-9)
    assert chi.p_value == pytest.approx(z.p_value, rel=1e-7, abs=1e-12)


@given(st.integers(0, 200), st.integers(1, 200), st.integers(1, 20), st.integers(1, 20), st.integers(1, 20))
def test_identical_reply_rates_give_a_p_value_of_one(s: int, n: int, k1: int, k2: int, k3: int) -> None:
    s = min(s, n)
    assert two_proportion_z_test(s * k1, n * k1, s * k2, n * k2).p_value == 1.0
    assert chi_square_homogeneity([s * k1, s * k2, s * k3], [n * k1, n * k2, n * k3]).p_value > 1 - 1e-9


def test_a_difference_is_meaningful_only_with_a_low_p_value_and_enough_sends() -> None:
    clear = compare_variants([Variant("a", 40, 20), Variant("b", 40, 8)])
    assert clear.test == Z_TEST
    assert clear.meaningful is True
    assert clear.verdict == "meaningful (p < 0.05)"
    same_rates = compare_variants([Variant("a", 40, 10), Variant("b", 40, 11)])
    assert same_rates.meaningful is False
    assert same_rates.verdict.startswith("not yet: no significant difference")
    assert same_rates.p_value is not None
    assert same_rates.p_value > 0.05
    # A big difference on few sends is not meaningful yet, but the test and its p-value are shown.
    few = compare_variants([Variant("a", 20, 15), Variant("b", 20, 1)])
    assert few.p_value is not None
    assert few.p_value < 0.001
    assert few.meaningful is False
    assert few.verdict.startswith("not yet: too few sends")
    three = compare_variants([Variant("a", 50, 10), Variant("b", 50, 20), Variant("c", 50, 30)])
    assert (three.test, three.df, three.meaningful) == (CHI_SQUARE_TEST, 2, True)


def test_a_single_variant_or_one_without_sends_is_not_compared() -> None:
    single = compare_variants([Variant("a", 100, 10)])
    assert (single.test, single.p_value, single.verdict) == (None, None, "one variant: nothing to compare")
    unsent = compare_variants([Variant("a", 100, 10), Variant("b", 0, 0)])
    assert (unsent.test, unsent.meaningful, unsent.verdict) == (None, False, "not yet: too few sends")
