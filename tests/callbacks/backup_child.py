"""Child process of test_backup_restore_kill.py: a deterministic fit with BackupAndRestore.

Usage: python backup_child.py WORKDIR SAVE_FREQ [PAUSE_EPOCH PAUSE_BATCH]

With a pause point it prints "PAUSED" once it has trained that batch and sleeps, so the parent can SIGKILL it
mid-epoch at a known place. On completion it writes WORKDIR/result.safetensors (weights, optimizer state and
the History as metadata) and prints "DONE".
"""
import json
import os
import sys
import time

import torch

torch.set_num_threads(1)

import numpy as np  # noqa: E402

import plait  # noqa: E402
from plait.callbacks import BackupAndRestore, LambdaCallback  # noqa: E402
from plait.saving import safetensors_format  # noqa: E402


def main() -> None:
    workdir, save_freq = sys.argv[1], sys.argv[2]
    save_freq = save_freq if save_freq == "epoch" else int(save_freq)
    pause = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) > 4 else None
    plait.set_random_seed(1234)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 6)).astype("float32")
    y = (x[:, :1] * 2 - x[:, 1:2] + 0.1 * rng.standard_normal((96, 1))).astype("float32")
    model = plait.Sequential([plait.layers.Dense(16, activation="relu", input_shape=(6,)),
                              plait.layers.Dropout(0.25), plait.layers.Dense(1)])
    model.compile(optimizer=plait.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    state = {"epoch": 0}

    def on_batch_end(batch, logs):
        if pause is not None and (state["epoch"], batch) == pause:
            print("PAUSED", flush=True)
            time.sleep(120)

    callbacks = [BackupAndRestore(os.path.join(workdir, "backup"), save_freq=save_freq),
                 LambdaCallback(on_epoch_begin=lambda epoch, logs: state.update(epoch=epoch),
                                on_train_batch_end=on_batch_end)]
    history = model.fit(x, y, batch_size=16, epochs=5, validation_split=0.25, verbose=0, callbacks=callbacks)
    tensors = {f"weight/{i}": torch.from_numpy(w) for i, w in enumerate(model.get_weights())}
    tensors.update({f"optimizer/{k}": v for k, v in model.optimizer.state_dict().items()})
    safetensors_format.save_file(tensors, os.path.join(workdir, "result.safetensors"),
                                 {"history": json.dumps(history.history), "epochs": json.dumps(history.epoch)})
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
