"""Twin of the code on page 003: "The model.fit() training loop"."""
import numpy as np

import plait

plait.set_random_seed(0)

# "model.fit(x_train, y_train, epochs=10, batch_size=32)": epochs = full passes over the data.
x_train = np.random.rand(96, 4).astype("float32")
y_train = x_train @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32")
model = plait.Sequential([plait.layers.Dense(1, input_shape=(4,))])
model.compile(optimizer="sgd", loss="mse")
history = model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
assert history.epoch == list(range(10))
assert history.params["steps"] == 3  # 96 samples / 32 per batch

# The page's example: the loss printed after 3 epochs decreases.
model = plait.Sequential([
    plait.layers.Dense(1, input_shape=(1,)),
])
model.compile(optimizer="sgd", loss="mse")
x = np.array([1, 2, 3, 4], dtype=float)
y = np.array([2, 4, 6, 8], dtype=float)
history = model.fit(x, y, epochs=3, batch_size=2, verbose=0)
print(history.history["loss"])
losses = history.history["loss"]
assert len(losses) == 3 and losses[0] > losses[1] > losses[2] > 0, losses

# "model.fit(x_train, y_train, epochs=5, batch_size=0)": batch_size must be a positive integer.
try:
    model.fit(x, y, epochs=5, batch_size=0)
    raise AssertionError("batch_size=0 should raise")
except ValueError as err:
    assert "batch_size must be a positive integer, got 0" in str(err)
    print(err)

# validation_data checks the model on held-out data after each epoch, without training on it.
x_val = np.array([5, 6], dtype=float)
y_val = np.array([10, 12], dtype=float)
before = model.get_weights()
history = model.fit(x, y, epochs=2, batch_size=2, validation_data=(x_val, y_val), verbose=0)
assert len(history.history["val_loss"]) == 2
after_val = model.evaluate(x_val, y_val, verbose=0)
assert np.isclose(after_val, history.history["val_loss"][-1], rtol=1e-5)
assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
print("page 003: all claims hold")
