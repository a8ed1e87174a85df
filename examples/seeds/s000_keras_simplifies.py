"""Twin of the code on page 000 (and its short copy 001): "Why Keras simplifies model building"."""
import io
from contextlib import redirect_stdout

import numpy as np

import plait
from plait.layers import Dense, Flatten

plait.set_random_seed(0)

# Q3: "What will be the output shape of the model after running this code?" -> (None, 3)
model = plait.Sequential([
    Dense(10, input_shape=(5,)),
    Dense(3),
])
buffer = io.StringIO()
with redirect_stdout(buffer):
    model.summary()
table = buffer.getvalue()
print(table)
assert model.output_shape == (None, 3)
assert "(None, 3)" in table and "(None, 10)" in table
assert "Total params: 93" in table  # 5*10+10 + 10*3+3

# Q4: the page says a first Dense layer without input_shape is an error. In Keras 3, and in plait, it is not:
# the model builds itself on the first batch (deferred build). Only asking for the summary too early fails,
# with a message that says how to fix it.
x_train = np.random.rand(64, 4).astype("float32")
y_train = np.random.rand(64, 8).astype("float32")
model = plait.Sequential()
model.add(Dense(8))
model.compile(optimizer="adam", loss="mse")
try:
    model.summary()
    raise AssertionError("summary() on an unbuilt model should raise")
except ValueError as err:
    assert "input shape" in str(err) and "not been built" in str(err)
history = model.fit(x_train, y_train, epochs=5, verbose=0)
assert model.built and model.output_shape == (None, 8)
assert len(history.history["loss"]) == 5

# Q5: build (with the input shape) -> compile -> fit, for images in 4 categories.
images = np.random.rand(80, 8, 8, 1).astype("float32")
labels = np.random.randint(0, 4, size=80)
model = plait.Sequential([
    plait.Input(shape=(8, 8, 1)),
    Flatten(),
    Dense(32, activation="relu"),
    Dense(4, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(images, labels, epochs=3, batch_size=16, verbose=0)
assert model.output_shape == (None, 4)
assert set(history.history) == {"loss", "accuracy"}
probabilities = model.predict(images[:5], verbose=0)
assert probabilities.shape == (5, 4) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
print("page 000: all claims hold")
