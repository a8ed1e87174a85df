"""Learning-rate schedules against their closed forms, and their serialization."""
import math

import numpy as np
import pytest
import torch

from plait.optimizers import SGD, schedules

STEPS = [0, 1, 7, 10, 15, 99, 100, 101, 250, 1000]


def test_exponential_decay():
    s = schedules.ExponentialDecay(0.1, decay_steps=100, decay_rate=0.9)
    st = schedules.ExponentialDecay(0.1, decay_steps=100, decay_rate=0.9, staircase=True)
    for step in STEPS:
        assert s(step) == pytest.approx(0.1 * 0.9 ** (step / 100), rel=1e-12)
        assert st(step) == pytest.approx(0.1 * 0.9 ** (step // 100), rel=1e-12)


def test_piecewise_constant_decay_boundaries_are_inclusive_on_the_left_piece():
    boundaries, values = [10, 100, 250], [1.0, 0.5, 0.1, 0.01]
    s = schedules.PiecewiseConstantDecay(boundaries, values)
    for step in STEPS:
        assert s(step) == values[int(np.searchsorted(boundaries, step, side="left"))]
    assert (s(10), s(11)) == (1.0, 0.5)


@pytest.mark.parametrize("power", [1.0, 0.5, 2.0])
def test_polynomial_decay(power):
    s = schedules.PolynomialDecay(0.1, decay_steps=100, end_learning_rate=0.01, power=power)
    c = schedules.PolynomialDecay(0.1, decay_steps=100, end_learning_rate=0.01, power=power, cycle=True)
    for step in STEPS:
        expected = (0.1 - 0.01) * (1 - min(step, 100) / 100) ** power + 0.01
        assert s(step) == pytest.approx(expected, rel=1e-12)
        period = 100 * max(1, math.ceil(step / 100))
        assert c(step) == pytest.approx((0.1 - 0.01) * (1 - step / period) ** power + 0.01, rel=1e-12)


def test_inverse_time_decay():
    s = schedules.InverseTimeDecay(0.1, decay_steps=10, decay_rate=0.5)
    st = schedules.InverseTimeDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    for step in STEPS:
        assert s(step) == pytest.approx(0.1 / (1 + 0.5 * step / 10), rel=1e-12)
        assert st(step) == pytest.approx(0.1 / (1 + 0.5 * (step // 10)), rel=1e-12)


def test_cosine_decay_with_and_without_warmup():
    s = schedules.CosineDecay(0.1, decay_steps=100, alpha=0.1)
    for step in STEPS:
        frac = min(step, 100) / 100
        assert s(step) == pytest.approx(0.1 * (0.9 * 0.5 * (1 + math.cos(math.pi * frac)) + 0.1), rel=1e-12)
    w = schedules.CosineDecay(0.0, decay_steps=100, warmup_target=0.2, warmup_steps=10)
    for step in STEPS:
        if step < 10:
            expected = 0.2 * step / 10
        else:
            frac = min(step - 10, 100) / 100
            expected = 0.2 * 0.5 * (1 + math.cos(math.pi * frac))
        assert w(step) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert w(10) == pytest.approx(0.2) and w(110) == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("t_mul,m_mul", [(2.0, 1.0), (1.0, 0.5), (1.5, 0.8)])
def test_cosine_decay_restarts(t_mul, m_mul):
    s = schedules.CosineDecayRestarts(0.1, first_decay_steps=10, t_mul=t_mul, m_mul=m_mul, alpha=0.05)
    for step in [0, 3, 9, 12, 25, 33, 47, 71, 150.5]:
        start, period, peak = 0.0, 10.0, 1.0
        while step >= start + period:
            start, period, peak = start + period, period * t_mul, peak * m_mul
        frac = (step - start) / period
        expected = 0.1 * (0.95 * 0.5 * peak * (1 + math.cos(math.pi * frac)) + 0.05)
        assert s(step) == pytest.approx(expected, rel=1e-9)


def test_schedule_accepts_numpy_and_tensor_steps():
    s = schedules.ExponentialDecay(0.1, 10, 0.5)
    assert s(np.int64(10)) == s(torch.tensor(10)) == s(10.0) == pytest.approx(0.05)
    with pytest.raises(TypeError, match="numeric step"):
        s("ten")


def test_optimizer_evaluates_the_schedule_at_each_iteration():
    s = schedules.CosineDecay(0.5, decay_steps=4)
    w = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = SGD(s)
    for step in range(6):
        assert opt.learning_rate == pytest.approx(s(step))
        opt.apply_gradients([(torch.ones(1, dtype=torch.float64), w)])
    assert w.item() == pytest.approx(-sum(s(t) for t in range(6)), rel=1e-12)


def test_validation_errors():
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.9)
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.CosineDecay(0.1, decay_steps=-5)
    with pytest.raises(ValueError, match="1 less than the length of values"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="strictly increasing"):
        schedules.PiecewiseConstantDecay([5, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="warmup_steps"):
        schedules.CosineDecay(0.1, 10, warmup_steps=-1)
    with pytest.raises(NotImplementedError, match="__call__"):
        schedules.LearningRateSchedule()(0)


@pytest.mark.parametrize("sched", [
    schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True),
    schedules.PiecewiseConstantDecay([3, 6], [0.3, 0.2, 0.1]),
    schedules.PolynomialDecay(0.1, 50, 0.001, power=2.0, cycle=True),
    schedules.InverseTimeDecay(0.1, 5, 0.3),
    schedules.CosineDecay(0.0, 20, alpha=0.1, warmup_target=0.1, warmup_steps=5),
    schedules.CosineDecayRestarts(0.1, 7, t_mul=1.5, m_mul=0.9, alpha=0.01),
])
def test_serialize_round_trip(sched):
    config = schedules.serialize(sched)
    assert config["class_name"] == type(sched).__name__
    again = schedules.deserialize(config)
    assert type(again) is type(sched) and again.get_config() == sched.get_config()
    assert [again(t) for t in range(30)] == [sched(t) for t in range(30)]
    opt = SGD(sched)
    assert SGD.from_config(opt.get_config()).get_config() == opt.get_config()


def test_custom_schedule_serialization():
    class Halving(schedules.LearningRateSchedule):
        def __init__(self, lr0):
            self.lr0 = lr0

        def __call__(self, step):
            return self.lr0 / (step + 1)

        def get_config(self):
            return {"lr0": self.lr0}

    config = schedules.serialize(Halving(0.4))
    with pytest.raises(ValueError, match="custom_objects"):
        schedules.deserialize(config)
    assert schedules.deserialize(config, custom_objects={"Halving": Halving})(1) == 0.2
