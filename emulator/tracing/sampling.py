"""Which requests are traced: every one (the local default), or as AWS's Default rule decides.

In AWS, the sampling rule every account starts with (`Default`: ReservoirSize 1, FixedRate
0.05, Priority 10000, what GetSamplingRules returns) traces the first request each second and
five percent of the requests beyond it (X-Ray developer guide, "Configuring sampling rules";
the X-Ray SDKs' built-in default rule is the same: fixed_target 1, rate 0.05). For an API with
tracing on, API Gateway applies it and passes the decision on in `X-Amzn-Trace-Id`
(`Sampled=1` or `0`); Lambda and the SDK follow that header. The reservoir counts per
wall-clock second, as the X-Ray SDKs' local reservoir does (aws-xray-sdk-python,
aws_xray_sdk/core/sampling/local/reservoir.py: one counter per int(time.time())).

Locally every request is traced unless asked otherwise, so nothing a user does goes unseen;
`--sampling default` shows what a deployed stack would record. The clock and the random
source are injectable so the decision can be tested exactly.
"""

import random
import threading
import time
from collections.abc import Callable
from typing import Protocol

DEFAULT_RESERVOIR_PER_SECOND = 1
DEFAULT_FIXED_RATE = 0.05
SAMPLING_MODES = ("all", "default")


class Sampler(Protocol):
    def should_sample(self) -> bool: ...


class TraceEverything:
    """`--sampling all`: every request is traced (the local stack's default)."""

    def should_sample(self) -> bool:
        return True


class DefaultRuleSampler:
    """`--sampling default`: a reservoir of `reservoir_per_second` a second, then `fixed_rate`."""

    def __init__(
        self,
        reservoir_per_second: int = DEFAULT_RESERVOIR_PER_SECOND,
        fixed_rate: float = DEFAULT_FIXED_RATE,
        *,
        clock: Callable[[], float] = time.time,
        random_source: Callable[[], float] = random.random,
    ) -> None:
        if reservoir_per_second < 0:
            raise ValueError(f"reservoir_per_second must not be negative, got {reservoir_per_second}")
        if not 0.0 <= fixed_rate <= 1.0:
            raise ValueError(f"fixed_rate must be between 0 and 1, got {fixed_rate}")
        self.reservoir_per_second = reservoir_per_second
        self.fixed_rate = fixed_rate
        self._clock = clock
        self._random = random_source
        # Requests arrive on many gateway threads; the reservoir is one counter for all.
        self._lock = threading.Lock()
        self._second: int | None = None
        self._taken = 0

    def should_sample(self) -> bool:
        if self._take_from_reservoir():
            return True
        # random() is in [0, 1): a rate of 0 samples nothing beyond the reservoir, 1 everything.
        return self._random() < self.fixed_rate

    def _take_from_reservoir(self) -> bool:
        second = int(self._clock())
        with self._lock:
            if second != self._second:
                self._second = second
                self._taken = 0
            if self._taken >= self.reservoir_per_second:
                return False
            self._taken += 1
            return True


def make_sampler(mode: str) -> Sampler:
    """The sampler for a `--sampling` value: "all" or "default"."""
    if mode == "all":
        return TraceEverything()
    if mode == "default":
        return DefaultRuleSampler()
    raise ValueError(f"sampling must be one of {', '.join(SAMPLING_MODES)}, got {mode!r}")
