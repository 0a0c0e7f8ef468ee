"""Statistics for comparing template variants (pure, standard library only).

* :func:`two_proportion_z_test`: two variants, pooled two-sided z-test of equal reply rates;
* :func:`chi_square_homogeneity`: two or more variants, chi-square test of homogeneity on the
  2 x k table (replied, not replied) x variants, with ``k - 1`` degrees of freedom;
* :func:`chi2_sf`: the chi-square survival function, from the regularized upper incomplete gamma
  function :func:`gammaincc` (series and continued fraction, as in Numerical Recipes §6.2);
* :func:`compare_variants`: the verdict a report shows: meaningful only when ``p < alpha`` *and*
  every variant has at least ``min_sends`` sends.

With two variants both tests agree: z² is the chi-square statistic with one degree of freedom.
When every variant has a reply rate of 0 (or of 1) there is no evidence of a difference: the
statistic is 0 and p is 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z_TEST = "two-proportion z-test (pooled, two-sided)"
CHI_SQUARE_TEST = "chi-square test of homogeneity"

_EPSILON = 1e-15
_TINY = 1e-300
_MAX_ITERATIONS = 100_000


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _lower_series(a: float, x: float) -> float:
    """The regularized lower incomplete gamma P(a, x) by its series (converges fast for x < a + 1)."""
    term = total = 1.0 / a
    denominator = a
    for _ in range(_MAX_ITERATIONS):
        denominator += 1.0
        term *= x / denominator
        total += term
        if abs(term) < abs(total) * _EPSILON:
            return total * math.exp(-x + a * math.log(x) - math.lgamma(a))
    raise ArithmeticError(f"the incomplete gamma series did not converge for a={a}, x={x}")  # pragma: no cover


def _upper_continued_fraction(a: float, x: float) -> float:
    """The regularized upper incomplete gamma Q(a, x) by its continued fraction (modified Lentz, x >= a + 1)."""
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITERATIONS):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < _TINY:
            d = _TINY
        c = b + an / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPSILON:
            return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h
    raise ArithmeticError(f"the incomplete gamma fraction did not converge for a={a}, x={x}")  # pragma: no cover


def gammaincc(a: float, x: float) -> float:
    """The regularized upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a), for a > 0 and x >= 0."""
    if not a > 0 or math.isinf(a):
        raise ValueError(f"gammaincc needs a finite a > 0, not {a}")
    if not x >= 0:
        raise ValueError(f"gammaincc needs x >= 0, not {x}")
    if x == 0:
        return 1.0
    if math.isinf(x):
        return 0.0
    if x < a + 1.0:
        return min(1.0, max(0.0, 1.0 - _lower_series(a, x)))
    return min(1.0, max(0.0, _upper_continued_fraction(a, x)))


def chi2_sf(x: float, df: int) -> float:
    """P(X > x) for X chi-square distributed with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"a chi-square distribution needs df >= 1, not {df}")
    if x <= 0:
        return 1.0
    return gammaincc(df / 2.0, x / 2.0)


@dataclass(frozen=True)
class TestResult:
    """A test's name, statistic, degrees of freedom (chi-square only) and p-value."""

    test: str
    statistic: float
    p_value: float
    df: int | None = None

    __test__ = False  # not a pytest test class, despite its name


def _check(successes: int, trials: int) -> None:
    if trials < 1:
        raise ValueError(f"every group needs at least one trial, not {trials}")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be between 0 and the trials ({trials}), not {successes}")


def two_proportion_z_test(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> TestResult:
    """The pooled two-proportion z-test of H0: both groups have the same success rate (two-sided)."""
    _check(successes_a, trials_a)
    _check(successes_b, trials_b)
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    variance = pooled * (1.0 - pooled) * (1.0 / trials_a + 1.0 / trials_b)
    if variance <= 0.0:  # all failures or all successes: no evidence of a difference
        return TestResult(Z_TEST, 0.0, 1.0)
    z = (successes_a / trials_a - successes_b / trials_b) / math.sqrt(variance)
    return TestResult(Z_TEST, z, min(1.0, 2.0 * normal_sf(abs(z))))


def chi_square_homogeneity(successes: Sequence[int], trials: Sequence[int]) -> TestResult:
    """The chi-square test of H0: every group has the same success rate (a 2 x k table, k - 1 df)."""
    if len(successes) != len(trials) or len(trials) < 2:
        raise ValueError("give successes and trials for two groups or more, as many of each")
    for s, n in zip(successes, trials, strict=True):
        _check(s, n)
    total = sum(trials)
    pooled = sum(successes) / total
    df = len(trials) - 1
    if pooled in (0.0, 1.0):
        return TestResult(CHI_SQUARE_TEST, 0.0, 1.0, df)
    statistic = 0.0
    for s, n in zip(successes, trials, strict=True):
        expected_yes = n * pooled
        expected_no = n - expected_yes
        statistic += (s - expected_yes) ** 2 / expected_yes + ((n - s) - expected_no) ** 2 / expected_no
    return TestResult(CHI_SQUARE_TEST, statistic, chi2_sf(statistic, df), df)


@dataclass(frozen=True)
class Variant:
    """A template variant of a step: how many emails it sent and how many of them got a reply."""

    name: str
    sends: int
    replies: int


@dataclass(frozen=True)
class Comparison:
    """Whether the variants of a step differ: the test used, its p-value, and the verdict to show."""

    test: str | None
    statistic: float | None
    df: int | None
    p_value: float | None
    meaningful: bool
    verdict: str


def compare_variants(variants: Sequence[Variant], *, alpha: float = 0.05, min_sends: int = 30) -> Comparison:
    """Compare the reply rates of a step's variants.

    Two variants with sends: the z-test; more: the chi-square test (variants with no send are left
    out of the test). The difference is *meaningful* when ``p < alpha`` and every variant has at
    least ``min_sends`` sends; otherwise the verdict says why not yet.
    """
    tested = [v for v in variants if v.sends > 0]
    if len(tested) < 2:
        verdict = "one variant: nothing to compare" if len(variants) < 2 else "not yet: too few sends"
        return Comparison(None, None, None, None, False, verdict)
    if len(tested) == 2:
        a, b = tested
        result = two_proportion_z_test(a.replies, a.sends, b.replies, b.sends)
    else:
        result = chi_square_homogeneity([v.replies for v in tested], [v.sends for v in tested])
    enough = all(v.sends >= min_sends for v in variants)
    if not enough:
        verdict = f"not yet: too few sends (fewer than {min_sends} for a variant)"
    elif result.p_value < alpha:
        verdict = f"meaningful (p < {alpha:g})"
    else:
        verdict = f"not yet: no significant difference (p >= {alpha:g})"
    return Comparison(
        result.test, result.statistic, result.df, result.p_value, enough and result.p_value < alpha, verdict
    )
