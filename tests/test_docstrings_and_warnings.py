"""`help(Model.fit)` and friends document every argument (Keras-style Args/Returns) and have an example (which
`--doctest-modules` runs), and deprecations are `DeprecationWarning`s that point at the user's line."""
from __future__ import annotations

import doctest
import inspect
import re
import typing
import warnings

import numpy as np
import pytest
import torch

import plait
from plait.callbacks import History, ReduceLROnPlateau
from plait.models.model import Model
from plait.optimizers import SGD, Adam, AdamW

PUBLIC_METHODS = ["fit", "evaluate", "predict", "compile", "train_on_batch", "test_on_batch", "predict_on_batch",
                  "predict_classes", "report", "save", "summary"]
RETURNING = set(PUBLIC_METHODS) - {"compile"}  # compile returns nothing and, as in Keras, says so by omission


def _section(doc: str, title: str) -> list[str]:
    """The lines of a Google-style section (`Args:`), up to the next line indented no deeper than its title."""
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == f"{title}:":
            indent = len(line) - len(line.lstrip())
            body = []
            for nxt in lines[i + 1:]:
                if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                    break
                body.append(nxt)
            return body
    return []


def _documented_args(doc: str) -> list[str]:
    body = [line for line in _section(doc, "Args") if line.strip()]
    if not body:
        return []
    entry_indent = min(len(line) - len(line.lstrip()) for line in body)
    names = []
    for line in body:
        m = re.match(r"(\w+)(?: \([^)]*\))?:", line[entry_indent:])
        if len(line) - len(line.lstrip()) == entry_indent and m:
            names.append(m.group(1))
    return names


def _parameters(fn: typing.Callable) -> list[str]:
    return [p.name for p in inspect.signature(fn).parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


@pytest.mark.parametrize("name", PUBLIC_METHODS)
def test_every_parameter_has_its_own_args_entry(name):
    fn = getattr(Model, name)
    doc = inspect.getdoc(fn) or ""
    documented = _documented_args(doc)
    missing = [p for p in _parameters(fn) if p not in documented]
    assert not missing, f"Model.{name}'s docstring has no Args entry for {missing}; it documents {documented}."
    assert len(documented) == len(set(documented)), f"Model.{name} documents an argument twice: {documented}"
    if name in RETURNING:
        assert _section(doc, "Returns"), f"Model.{name}'s docstring has no Returns section."
    assert len(doc.splitlines()[0]) <= 120 and doc.splitlines()[1] == "", "one summary line, then a blank line"


@pytest.mark.parametrize("name", ["add", "pop", "__init__"])
def test_sequential_methods_document_every_parameter(name):
    fn = getattr(plait.Sequential, name)
    doc = inspect.getdoc(plait.Sequential if name == "__init__" else fn) or ""
    missing = [p for p in _parameters(fn) if p not in _documented_args(doc)]
    assert not missing, f"Sequential.{name}: no Args entry for {missing}"


def test_fit_keras_semantics_are_spelled_out():
    doc = inspect.getdoc(Model.fit)
    for phrase in ("*last* rows", "before any shuffling", "`None` means 32", "DataLoader", "generator",
                   "pandas", "matched to the inputs by name", "Jupyter", "file or a pipe", "(x, y, sample_weight)"):
        assert phrase in doc, phrase


def test_return_annotations_resolve():
    assert typing.get_type_hints(Model.fit)["return"] is History
    assert typing.get_type_hints(Model.evaluate)["return"] == float | list[float] | dict[str, float]
    assert typing.get_type_hints(Model.predict)["return"] == np.ndarray | list | dict


@pytest.mark.parametrize("obj", [Model.fit, Model.evaluate, Model.predict, Model.compile, Model.summary,
                                 Model.predict_classes, plait.Sequential], ids=lambda o: o.__qualname__)
def test_the_main_entry_points_have_an_example(obj):
    # pytest --doctest-modules (pyproject.toml) runs every example under plait/; this pins that these have one.
    tests = doctest.DocTestFinder(recurse=False).find(obj, obj.__qualname__, globs={})
    assert tests and tests[0].examples, f"{obj.__qualname__} has no example"


# --------------------------------------------------------------------------------------------- warning categories
@pytest.mark.parametrize("make", [lambda: SGD(decay=0.1), lambda: Adam(decay=0.1), lambda: AdamW(decay=0.1),
                                  lambda: plait.optimizers.get({"class_name": "Adam",
                                                                "config": {"decay": 0.1}})],
                         ids=["SGD", "Adam", "AdamW (three __init__s deep)", "from a config"])
def test_optimizer_decay_is_ignored_with_a_user_warning_at_the_callers_line(make):
    with pytest.warns(UserWarning, match="`decay` is no longer supported") as caught:
        make()
    assert [w.filename for w in caught] == [__file__]


def test_reduce_lr_epsilon_is_a_deprecation_pointing_at_the_callers_line():
    with pytest.warns(DeprecationWarning, match="use `min_delta`") as caught:
        reduce = ReduceLROnPlateau(epsilon=0.5)
    assert reduce.min_delta == 0.5
    assert [w.filename for w in caught] == [__file__]


def test_deprecations_are_hidden_in_library_code_but_errors_under_a_filter():
    # Python's default filters hide a DeprecationWarning whose line is not in __main__; a user (or a test suite)
    # who wants them as errors can say so by category.
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        with pytest.raises(DeprecationWarning):
            ReduceLROnPlateau(epsilon=0.5)


def test_missing_gradient_is_a_user_warning_at_the_callers_line():
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    opt = SGD(learning_rate=0.1)
    with pytest.warns(UserWarning, match="Gradients do not exist") as caught:
        opt.apply_gradients([(torch.ones(2), a), (None, b)])
    assert [w.filename for w in caught] == [__file__]
