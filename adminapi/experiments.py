"""The statistics of the experiment readout: a two-proportion z-test of two completion rates."""

import math


def two_proportion_p_value(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> float | None:
    """Return the two-sided p-value of a pooled two-proportion z-test (None when an arm is empty).

    z = (p_a − p_b) / sqrt(p (1 − p) (1/n_a + 1/n_b)) with p the pooled rate, and the p-value is
    2 (1 − Φ(|z|)) = erfc(|z| / √2), the normal tail without SciPy. The normal approximation wants
    a handful of successes and failures in each arm; with fewer the p-value is rough.
    """
    if not trials_a or not trials_b:
        return None
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    variance = pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b)
    if variance == 0:  # every session in both arms completed, or none did: no difference to test
        return 1.0
    z = (successes_a / trials_a - successes_b / trials_b) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2))
