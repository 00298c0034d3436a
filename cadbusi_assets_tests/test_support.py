"""The shared time limit of the end-to-end tests really stops a hang."""

from __future__ import annotations

import signal
import time

import pytest

from cadbusi_assets_tests.support import time_limit


def test_a_block_over_its_time_limit_fails_and_the_alarm_is_restored():
    before = signal.getsignal(signal.SIGALRM)
    started = time.monotonic()
    with (
        pytest.raises(TimeoutError, match="the hang took longer than 1 s"),
        time_limit(1, "the hang"),
    ):
        time.sleep(10)
    assert time.monotonic() - started < 5
    assert signal.getsignal(signal.SIGALRM) == before
    assert signal.alarm(0) == 0  # no alarm left pending
    with time_limit(5):
        pass
