"""Twin of the code on page 004: "Why training optimizes model weights" (GradientTape + apply_gradients)."""
import numpy as np
import torch

import plait

plait.set_random_seed(0)

# The page's training step: loss is positive, and apply_gradients moves the weights to reduce it.
model = plait.Sequential([plait.layers.Dense(1)])
optimizer = plait.optimizers.SGD(learning_rate=0.1)
x = torch.tensor([[1.0]])
y = torch.tensor([[2.0]])
with plait.GradientTape() as tape:
    prediction = model(x)
    loss = torch.mean((y - prediction) ** 2)
grads = tape.gradient(loss, model.trainable_variables)
before = [v.numpy() for v in model.trainable_variables]
optimizer.apply_gradients(zip(grads, model.trainable_variables))
print(loss.detach().numpy())
assert loss.item() > 0
after = [v.numpy() for v in model.trainable_variables]
assert all(not np.array_equal(b, a) for b, a in zip(before, after))
# SGD's rule, checked by hand: w <- w - lr * dL/dw
for b, a, g in zip(before, after, grads):
    assert np.allclose(a, b - 0.1 * g.numpy(), atol=1e-6)
new_loss = torch.mean((y - model(x)) ** 2).item()
assert new_loss < loss.item()

# The page's bug: without apply_gradients, the weights stay exactly the same.
model = plait.Sequential([plait.layers.Dense(1)])
optimizer = plait.optimizers.Adam(learning_rate=0.01)
model(x)  # build
before = [v.numpy() for v in model.trainable_variables]
with plait.GradientTape() as tape:
    prediction = model(x)
    loss = torch.mean((y - prediction) ** 2)
grads = tape.gradient(loss, model.trainable_variables)
# Missing apply_gradients call here
print(model.trainable_variables[0].numpy())
after = [v.numpy() for v in model.trainable_variables]
assert all(np.array_equal(b, a) for b, a in zip(before, after))
assert all(g is not None for g in grads)
print("page 004: all claims hold")
