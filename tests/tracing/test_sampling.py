"""The sampler behind `--sampling`: AWS's Default rule (1 a second, then 5 %) or everything."""

import threading
from collections.abc import Callable

import pytest

from emulator.tracing.sampling import DefaultRuleSampler, TraceEverything, make_sampler


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def draws(*values: float) -> Callable[[], float]:
    """A random source that answers `values` in turn and fails if asked once more."""
    remaining = list(values)

    def draw() -> float:
        assert remaining, "the sampler drew more random numbers than the test expected"
        return remaining.pop(0)

    return draw


def test_the_first_request_of_each_second_is_always_sampled():
    clock = FakeClock(1000.2)
    sampler = DefaultRuleSampler(clock=clock, random_source=draws(0.99, 0.99))

    assert sampler.should_sample() is True  # the reservoir: no random number drawn
    assert sampler.should_sample() is False  # 0.99 is not under 5 %
    clock.now = 1000.9
    assert sampler.should_sample() is False  # still the same second
    clock.now = 1001.0
    assert sampler.should_sample() is True  # a new second, a new reservoir


def test_beyond_the_reservoir_five_percent_are_sampled():
    sampler = DefaultRuleSampler(clock=FakeClock(5.0), random_source=draws(0.0, 0.049999, 0.05, 0.5))

    assert sampler.should_sample() is True
    assert [sampler.should_sample() for _ in range(4)] == [True, True, False, False]


def test_a_long_run_samples_one_a_second_plus_the_fixed_rate():
    clock = FakeClock(0.0)
    # A deterministic sequence: every 20th draw is under 0.05.
    values = iter([0.0 if i % 20 == 0 else 0.5 for i in range(10_000)])
    sampler = DefaultRuleSampler(clock=clock, random_source=lambda: next(values))
    sampled = 0
    for second in range(10):
        clock.now = second + 0.5
        sampled += sum(sampler.should_sample() for _ in range(101))
    # Per second: 1 from the reservoir, then 100 draws of which 5 are under the rate.
    assert sampled == 10 * (1 + 5)


def test_the_reservoir_is_one_counter_for_every_thread():
    sampler = DefaultRuleSampler(clock=FakeClock(7.0), random_source=lambda: 1.0)
    results: list[bool] = []
    lock = threading.Lock()

    def request() -> None:
        decision = sampler.should_sample()
        with lock:
            results.append(decision)

    threads = [threading.Thread(target=request) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1


def test_other_reservoirs_and_rates():
    sampler = DefaultRuleSampler(3, 0.0, clock=FakeClock(1.0), random_source=lambda: 0.0)
    assert [sampler.should_sample() for _ in range(5)] == [True, True, True, False, False]
    everything = DefaultRuleSampler(0, 1.0, clock=FakeClock(1.0), random_source=lambda: 0.999)
    assert all(everything.should_sample() for _ in range(10))


@pytest.mark.parametrize(("reservoir", "rate"), [(-1, 0.05), (1, -0.1), (1, 1.5)])
def test_impossible_settings_are_refused(reservoir, rate):
    with pytest.raises(ValueError):
        DefaultRuleSampler(reservoir, rate)


def test_make_sampler_maps_the_option():
    assert isinstance(make_sampler("all"), TraceEverything)
    assert all(make_sampler("all").should_sample() for _ in range(100))
    default = make_sampler("default")
    assert isinstance(default, DefaultRuleSampler)
    assert (default.reservoir_per_second, default.fixed_rate) == (1, 0.05)
    with pytest.raises(ValueError, match="all, default"):
        make_sampler("some")
