"""Twin of the code on page 002: "Sequential model API"."""
import numpy as np

import plait
from plait.layers import Dense
from plait.models import Sequential

plait.set_random_seed(0)

# Q2: the right way to make a one-layer model is Sequential([Dense(10)]).
model = Sequential([Dense(10)])
assert len(model.layers) == 1
try:  # Sequential(Dense(10)) misses the brackets: a clear error, not a mystery
    Sequential(Dense(10))
    raise AssertionError("Sequential(Dense(10)) should raise")
except TypeError as err:
    assert "list" in str(err)
assert Sequential().add(Dense(10)) is None  # add() returns nothing, so chaining it loses the model
try:  # add() on the class instead of an instance
    Sequential.add(Dense(10))
    raise AssertionError("Sequential.add(Dense(10)) should raise")
except TypeError:
    pass

# Q3: print(model.output_shape) -> (None, 3)
model = Sequential([
    Dense(5, input_shape=(10,)),
    Dense(3),
])
print(model.output_shape)
assert model.output_shape == (None, 3)

# Q4: the page's code fails only because x_train / y_train are undefined; with data it trains.
x_train = np.random.rand(100, 5).astype("float32")
y_train = (x_train.sum(axis=1, keepdims=True) > 2.5).astype("float32")
model = Sequential()
model.add(Dense(10, input_shape=(5,)))
model.add(Dense(1))
model.compile(optimizer="adam", loss="mse")
history = model.fit(x_train, y_train, epochs=5, verbose=0)
assert len(history.history["loss"]) == 5

# Q5: Dense(3, activation='softmax') with loss='categorical_crossentropy' trains a 3-class model.
rng = np.random.default_rng(0)
centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]], dtype="float32")
labels = rng.integers(0, 3, size=300)
x = centers[labels] + rng.normal(scale=0.6, size=(300, 2)).astype("float32")
y = plait.utils.to_categorical(labels, num_classes=3)
model = Sequential([
    plait.Input(shape=(2,)),
    Dense(16, activation="relu"),
    Dense(3, activation="softmax"),
])
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x, y, epochs=30, batch_size=32, verbose=0)
losses = history.history["loss"]
assert losses[-1] < losses[0] * 0.5, losses
assert history.history["accuracy"][-1] > 0.9, history.history["accuracy"][-1]
print(f"3-class softmax model: loss {losses[0]:.3f} -> {losses[-1]:.3f}, "
      f"accuracy {history.history['accuracy'][-1]:.3f}")

# The page's wrong option C (integer labels with categorical_crossentropy) gets a message that names the fix.
model.compile(optimizer="adam", loss="categorical_crossentropy")
try:
    model.fit(x, labels, epochs=1, verbose=0)
    raise AssertionError("categorical_crossentropy with integer labels should raise")
except ValueError as err:
    assert "sparse_categorical_crossentropy" in str(err)
print("page 002: all claims hold")
