"""Tables over seeds: stacking, mean and sample std per row, and the 'mean ± std' display."""

import numpy as np
import pandas as pd
import pytest

from poison_tf.report.seeds import format_mean_spread, mean_spread, over_seeds


def _table(rate_a: float, rate_b: float) -> pd.DataFrame:
    index = pd.MultiIndex.from_tuples([("vae", "sunglasses"), ("strip", "lipstick")])
    frame = pd.DataFrame(
        {"detection_rate": [rate_a, rate_b], "layer": ["-", "conv_3"]}, index=index
    )
    return frame.rename_axis(["detector", "trigger"])


def test_mean_and_sample_std_per_row_in_first_seen_order():
    long = over_seeds([_table(0.8, 0.1), _table(0.9, 0.3), _table(1.0, 0.2)], [17, 18, 19])
    assert long.index.names == ["seed", "detector", "trigger"] and len(long) == 6
    mean, std = mean_spread(long)
    assert list(mean.index) == [("vae", "sunglasses"), ("strip", "lipstick")]
    np.testing.assert_allclose(mean["detection_rate"], [0.9, 0.2])
    np.testing.assert_allclose(std["detection_rate"], [0.1, 0.1])  # ddof 1
    assert list(mean.columns) == ["detection_rate"]  # strings are not averaged


def test_display_keeps_strings_and_shows_plus_minus():
    shown = format_mean_spread(over_seeds([_table(0.8, 0.1), _table(0.9, 0.3)], [1, 2]))
    assert shown.loc[("vae", "sunglasses"), "detection_rate"] == "0.850 ± 0.071"
    assert shown.loc[("strip", "lipstick"), "layer"] == "conv_3"
    single = format_mean_spread(over_seeds([_table(0.8, 0.1)], [1]))
    assert single.loc[("vae", "sunglasses"), "detection_rate"] == "0.800"


def test_mismatched_seeds_are_refused():
    with pytest.raises(ValueError, match="2 tables for 1 seeds"):
        over_seeds([_table(0, 0), _table(0, 0)], [1])
