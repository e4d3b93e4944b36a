"""``--since``: a time an audit can start from, or a ConfigError that says what was typed wrong."""

import math

import pytest

from llmrec.audit.report import parse_since
from llmrec.errors import ConfigError


@pytest.mark.parametrize("value", ["1700000000000", 1_700_000_000_000.0])
def test_a_millisecond_epoch_is_refused_with_a_hint_to_divide_by_1000(value):
    with pytest.raises(ConfigError, match="looks like milliseconds: divide by 1000"):
        parse_since(value)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e300", math.nan, math.inf])
def test_non_finite_and_far_out_of_range_seconds_are_refused_without_the_milliseconds_hint(value):
    with pytest.raises(ConfigError, match="not a time in unix seconds") as err:
        parse_since(value)
    assert "milliseconds" not in str(err.value)


def test_the_last_and_first_representable_seconds_are_accepted():
    assert parse_since("253402300799") == 253_402_300_799.0  # 9999-12-31T23:59:59Z
    assert parse_since("0") == 0.0
