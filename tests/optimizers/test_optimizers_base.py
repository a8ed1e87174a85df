"""The shared apply path: clipping, learning-rate changes, None gradients, EMA, accumulation, state, ids, errors."""
import io
import warnings

import numpy as np
import pytest
import torch

import plait.optimizers as optimizers
from optimizers_reference import assert_close, keras_adam, keras_sgd, make_problem, run, to_params
from plait.optimizers import SGD, Adagrad, Adam, Adamax, AdamW, Nadam, Optimizer, RMSprop, schedules
from plait.variables import Variable


def tensors(gs):
    return [torch.tensor(g, dtype=torch.float32) for g in gs]


# ------------------------------------------------------------------------------------------------ clipping
def test_clipnorm_clips_each_tensor_like_keras():
    params, grads = make_problem(0, steps=3, scale=3.0)
    grads = [[gs[0], gs[1] * 0.05, gs[2]] for gs in grads]  # the middle tensor stays under the threshold
    clip = 2.0
    clipped = [[g * clip / max(np.linalg.norm(g), clip) for g in gs] for gs in grads]
    norms = [np.linalg.norm(g) for gs in grads for g in gs]
    assert min(norms) < clip < max(norms)
    assert_close(run(SGD(0.1, clipnorm=clip), params, grads), keras_sgd(params, clipped, lr=0.1)[0])


def test_global_clipnorm_scales_all_gradients_jointly():
    params, grads = make_problem(1, steps=3, scale=3.0)
    clip = 4.0
    clipped = []
    for gs in grads:
        total = np.sqrt(sum((g**2).sum() for g in gs))
        clipped.append([g * clip * min(1 / total, 1 / clip) for g in gs])
    assert_close(run(SGD(0.1, global_clipnorm=clip), params, grads), keras_sgd(params, clipped, lr=0.1)[0])
    small, _ = make_problem(1, steps=1, scale=1e-3)  # under the threshold: untouched
    g = make_problem(2, steps=1, scale=1e-3)[1]
    assert_close(run(SGD(0.1, global_clipnorm=clip), small, g), keras_sgd(small, g, lr=0.1)[0])


def test_clipvalue_clips_elements():
    params, grads = make_problem(3, steps=3, scale=2.0)
    clipped = [[np.clip(g, -0.5, 0.5) for g in gs] for gs in grads]
    assert_close(run(Adam(0.01, clipvalue=0.5), params, grads), keras_adam(params, clipped, lr=0.01)[0])


def test_clip_options_are_exclusive_and_validated():
    with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and `global_clipnorm`"):
        SGD(clipnorm=1.0, clipvalue=1.0)
    for arg in ["clipnorm", "clipvalue", "global_clipnorm"]:
        with pytest.raises(ValueError, match=arg):
            SGD(**{arg: 0.0})
    # set after construction, Keras's priority applies: clipnorm before global_clipnorm before clipvalue
    params, grads = make_problem(4, steps=2, scale=3.0)
    opt = SGD(0.1, clipvalue=0.1)
    opt.clipnorm = 1.0
    clipped = [[g / max(np.linalg.norm(g), 1.0) for g in gs] for gs in grads]
    assert_close(run(opt, params, grads), keras_sgd(params, clipped, lr=0.1)[0])


def test_gradients_given_by_the_user_are_not_modified():
    params, grads = make_problem(5, steps=1, scale=3.0)
    g = tensors(grads[0])
    before = [x.clone() for x in g]
    opt = SGD(0.1, momentum=0.9, clipnorm=1.0, weight_decay=0.1, loss_scale_factor=2.0)
    opt.apply_gradients(zip(g, to_params(params)))
    assert all(torch.equal(a, b) for a, b in zip(g, before))


# ------------------------------------------------------------------------------------------- learning rate
def test_learning_rate_set_between_steps_takes_effect_immediately():
    params, grads = make_problem(6, steps=6)
    opt = Adam(learning_rate=0.01)
    ps = to_params(params)
    for t, gs in enumerate(grads):
        if t == 3:
            opt.learning_rate = 0.05
            assert opt.learning_rate == 0.05 and opt.learning_rate.numpy() == np.float32(0.05)
        opt.apply_gradients(zip(tensors(gs), ps))
    assert_close(ps, keras_adam(params, grads, lr=lambda it: 0.01 if it < 3 else 0.05)[0])
    assert opt.get_config()["learning_rate"] == 0.05


def test_schedule_and_callables_are_evaluated_at_iterations():
    params, grads = make_problem(7, steps=5)
    sched = schedules.PiecewiseConstantDecay([1, 3], [0.1, 0.05, 0.01])
    expected = keras_sgd(params, grads, lr=sched, momentum=0.5)[0]
    assert_close(run(SGD(sched, momentum=0.5), params, grads), expected)
    assert_close(run(SGD(lambda step: sched(step), momentum=0.5), params, grads), expected)
    opt = SGD(0.1)
    calls = iter([0.1, 0.2, 0.3])
    opt.learning_rate = lambda: next(calls)  # Keras's zero-argument callable form
    assert_close(run(opt, params, grads[:2]), keras_sgd(params, grads[:2], lr=lambda it: [0.1, 0.2][it])[0])
    opt = SGD(sched)
    opt.iterations = 2
    assert opt.learning_rate == 0.05
    opt.learning_rate = 0.3  # a float may replace a schedule
    assert opt.learning_rate == 0.3


def test_learning_rate_validation():
    with pytest.raises(ValueError, match="learning_rate"):
        Adam(learning_rate=-0.1)
    with pytest.raises(TypeError, match="learning_rate"):
        Adam(learning_rate="fast")
    opt = Adam()
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = -1.0
    assert Adam(learning_rate=1).learning_rate == 1.0
    opt.learning_rate = np.array(0.02, dtype=np.float32)  # what callbacks computing in numpy hand over
    assert opt.learning_rate == pytest.approx(0.02)


# --------------------------------------------------------------------------------------------- gradients
def test_none_gradients_are_skipped_with_a_warning():
    params, grads = make_problem(8, steps=3)
    ps = to_params(params)
    opt = Adam(0.01)
    for gs in grads:
        with pytest.warns(UserWarning, match="Gradients do not exist"):
            opt.apply_gradients([(torch.tensor(gs[0], dtype=torch.float32), ps[0]), (None, ps[1]),
                                 (torch.tensor(gs[2], dtype=torch.float32), ps[2])])
    assert int(opt.iterations) == 3
    assert torch.equal(ps[1].detach(), torch.tensor(params[1], dtype=torch.float32))
    assert not opt.state_dict()["momentum/1"].any()
    sub = [params[0], params[2]]
    expected = keras_adam(sub, [[gs[0], gs[2]] for gs in grads], lr=0.01)[0]
    assert_close([ps[0], ps[2]], expected)
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        opt.apply_gradients([(None, p) for p in ps])


def test_apply_errors_and_gradient_conversion():
    params, grads = make_problem(9, steps=1)
    ps = to_params(params)
    opt = SGD(0.1)
    with pytest.raises(ValueError, match="build"):
        opt.apply(tensors(grads[0]))
    opt.build(ps)
    opt.apply(tensors(grads[0]))  # grads aligned with the built variables
    with pytest.raises(ValueError, match="Unknown variable"):
        opt.apply_gradients([(torch.ones(2), torch.nn.Parameter(torch.zeros(2)))])
    with pytest.raises(ValueError, match="shape"):
        opt.apply_gradients([(torch.ones(7), ps[1])])
    with pytest.raises(ValueError, match="gradients"):
        opt.apply(tensors(grads[0])[:2])
    opt.apply_gradients([(grads[0][1], ps[1])])  # numpy float64 gradient is cast to the variable's dtype
    assert ps[1].dtype == torch.float32
    assert opt.apply_gradients([]) is None
    with pytest.raises(TypeError, match="floating-point"):
        SGD().build([torch.zeros(3, dtype=torch.int64)])


def test_plait_variables_and_slot_names():
    w = Variable(torch.ones(3), name="kernel")
    opt = Adam(0.1)
    opt.apply_gradients([(torch.ones(3), w)])
    names = [v.name for v in opt.variables]
    assert names == ["iteration", "learning_rate", "kernel_momentum", "kernel_velocity"]
    assert opt.variables[0].numpy() == 1 and isinstance(w, Variable)
    assert opt.iterations.numpy() == 1 and int(opt.iterations) == 1


def test_loss_scale_factor_unscales_gradients():
    params, grads = make_problem(10, steps=3)
    opt = Adam(0.01, loss_scale_factor=8.0)
    assert float(opt.scale_loss(torch.tensor(2.0))) == 16.0
    scaled = [[g * 8.0 for g in gs] for gs in grads]
    assert_close(run(opt, params, scaled), keras_adam(params, grads, lr=0.01)[0])


# ----------------------------------------------------------------------------------- EMA and accumulation
def test_ema_tracks_the_moving_average_and_overwrites():
    params, grads = make_problem(11, steps=5)
    opt = SGD(0.1, use_ema=True, ema_momentum=0.8, ema_overwrite_frequency=None)
    ps = run(opt, params, grads)
    expected = [p.copy() for p in params]
    averages = None
    for t, gs in enumerate(grads):
        expected = keras_sgd(expected, [gs], lr=0.1)[0]
        averages = [e.copy() for e in expected] if t == 0 else [0.8 * a + 0.2 * e for a, e in zip(averages, expected)]
    assert_close(ps, expected)
    assert_close([opt.state_dict()[f"average/{i}"] for i in range(3)], averages)
    opt.finalize_variable_values(ps)
    assert_close(ps, averages)
    opt = SGD(0.1, use_ema=True, ema_momentum=0.8, ema_overwrite_frequency=2)
    ps = run(opt, params, grads[:2])
    assert all(torch.equal(p.detach(), a) for p, a in zip(ps, opt._slots["average"]))
    with pytest.raises(ValueError, match="ema_overwrite_frequency"):
        SGD(use_ema=True, ema_overwrite_frequency=0)


def test_gradient_accumulation_updates_every_k_steps_with_the_mean():
    params, grads = make_problem(12, steps=6)
    opt = Adam(0.01, gradient_accumulation_steps=3)
    ps = to_params(params)
    for t, gs in enumerate(grads):
        opt.apply_gradients(zip(tensors(gs), ps))
        if t == 1:
            assert_close(ps, params)  # nothing applied before the 3rd call
    means = [[(a + b + c) / 3 for a, b, c in zip(*grads[k:k + 3])] for k in (0, 3)]
    assert_close(ps, keras_adam(params, means, lr=0.01)[0])
    assert int(opt.iterations) == 2 and opt._iterations == 6
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        Adam(gradient_accumulation_steps=1)


# ---------------------------------------------------------------------------------------- state and resume
ALL = [
    lambda: SGD(0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda: Adam(0.01, amsgrad=True, clipnorm=1.0),
    lambda: AdamW(schedules.ExponentialDecay(0.01, 2, 0.7)),
    lambda: Adamax(0.01, use_ema=True),
    lambda: Nadam(0.01, gradient_accumulation_steps=2),
    lambda: RMSprop(0.01, momentum=0.5, centered=True),
    lambda: Adagrad(0.1),
]


@pytest.mark.parametrize("make", ALL)
def test_save_and_restore_resumes_bit_for_bit(make):
    params, grads = make_problem(13, steps=7)
    straight = make()
    ps = run(straight, params, grads)

    first = make()
    qs = run(first, params, grads[:4])
    buffer = io.BytesIO()
    torch.save({"optimizer": first.state_dict(), "weights": [q.detach().clone() for q in qs]}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer)
    resumed = make()
    rs = [torch.nn.Parameter(w) for w in saved["weights"]]
    resumed.build(rs)
    resumed.load_state_dict(saved["optimizer"])
    assert int(resumed.iterations) == int(first.iterations)
    for gs in grads[4:]:
        resumed.apply_gradients(zip(tensors(gs), rs))
    assert all(torch.equal(a, b) for a, b in zip(ps, rs))
    assert all(torch.equal(straight.state_dict()[k], resumed.state_dict()[k]) for k in straight.state_dict())


def test_load_state_dict_errors():
    opt = Adam()
    with pytest.raises(ValueError, match="build"):
        opt.load_state_dict({})
    ps = to_params(make_problem(14, steps=1)[0])
    opt.build(ps)
    state = opt.state_dict()
    with pytest.raises(ValueError, match="missing keys"):
        opt.load_state_dict({k: v for k, v in state.items() if k != "velocity/2"})
    bad = dict(state, **{"momentum/0": torch.zeros(9)})
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict(bad)
    other = SGD(momentum=0.9)
    other.build(ps)
    with pytest.raises(ValueError, match="unexpected keys"):
        other.load_state_dict(state)


# ------------------------------------------------------------------------------------------ ids and config
@pytest.mark.parametrize("name,cls", [("sgd", SGD), ("SGD", SGD), ("adam", Adam), ("ADAM", Adam), ("adamw", AdamW),
                                      ("AdamW", AdamW), ("rmsprop", RMSprop), ("RMSprop", RMSprop),
                                      ("adagrad", Adagrad), ("adamax", Adamax), ("Nadam", Nadam)])
def test_get_resolves_string_ids_in_any_case(name, cls):
    opt = optimizers.get(name)
    assert type(opt) is cls
    assert optimizers.get(opt) is opt


def test_get_errors_name_the_fix():
    with pytest.raises(ValueError, match="Did you mean .*'adam'"):
        optimizers.get("adma")
    with pytest.raises(ValueError, match="Unknown optimizer 'lamb'"):
        optimizers.get("lamb")
    with pytest.raises(TypeError, match="Could not interpret optimizer identifier"):
        optimizers.get(3)
    # a torch.optim optimizer is run as it is (tests/training/test_torch_objects.py)
    assert isinstance(optimizers.get(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)),
                      optimizers.TorchOptimizer)
    with pytest.raises(ValueError, match="not recognized"):
        Adam(lr=0.1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Adam(decay=0.1)
    assert "no longer supported" in str(caught[0].message)


@pytest.mark.parametrize("make", ALL)
def test_serialize_round_trips_the_config(make):
    opt = make()
    config = optimizers.serialize(opt)
    assert config["class_name"] == type(opt).__name__ and config["module"] == "plait.optimizers"
    again = optimizers.deserialize(config)
    assert type(again) is type(opt)
    assert again.get_config() == opt.get_config()
    assert optimizers.get(config).get_config() == opt.get_config()


def test_keras_default_configs():
    assert optimizers.get("adam").get_config() == {
        "name": "adam", "learning_rate": 0.001, "weight_decay": None, "clipnorm": None, "global_clipnorm": None,
        "clipvalue": None, "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
        "loss_scale_factor": None, "gradient_accumulation_steps": None, "beta_1": 0.9, "beta_2": 0.999,
        "epsilon": 1e-07, "amsgrad": False}
    with pytest.warns(UserWarning, match="callable learning rate"):
        assert SGD(lambda step: 0.5).get_config()["learning_rate"] == 0.5


def test_custom_optimizer_subclass_registers_and_serializes():
    class SignSGD(Optimizer):
        def __init__(self, learning_rate=0.01, **kwargs):
            super().__init__(learning_rate, **kwargs)

        def _update(self, params, grads, slots, lr, step, weight_decay, fused):
            torch._foreach_add_(params, torch._foreach_sign(grads), alpha=-lr)

    w = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
    opt = SignSGD(0.5)
    opt.apply_gradients([(torch.tensor([3.0, -0.1]), w)])
    assert w.tolist() == [0.5, -0.5]
    config = optimizers.serialize(opt)
    assert type(optimizers.deserialize(config, custom_objects={"SignSGD": SignSGD})) is SignSGD
