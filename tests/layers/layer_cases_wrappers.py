"""Harness cases for the layers that wrap a function, an op or a torch module (plait/layers/lambda_layer.py,
op_layer.py, torch_module.py)."""
from layer_harness import case

import plait

CASES = {
    "Lambda": case({"function": plait.activations.softplus}, (4, 3), (4, 3)),
    "OpLayer": case({"op": "multiply", "arguments": [[{"__plait_tensor__": 0}, 2.0], {}]}, (4, 3), (4, 3)),
}

NOT_HARNESSED = {
    "TorchModuleWrapper": "wraps a module whose weights exist before the first call (the harness checks a lazy "
                          "build) and that one instance would share between the harness's copies; "
                          "tests/layers/test_wrapper_layers.py covers it",
}
