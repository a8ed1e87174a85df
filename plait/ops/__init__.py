"""`plait.ops`: Keras 3's `keras.ops` on torch tensors, differentiable, under Keras's names and arguments.

The NumPy-like ops (`matmul`, `sum`, `reshape`, `where`, ...), the neural-network ops (`relu`, `softmax`,
`conv`, `dot_product_attention`, ...; also as `plait.ops.nn`) and `plait.ops.image.resize` take tensors, NumPy
arrays, Python scalars or lists, and return torch tensors; gradients flow through every op. Semantics are
NumPy's and Keras's where they differ from torch (see each module): reductions over `axis=None` or a tuple of
axes, `keepdims`, first index on ties for `argmax`, population `std`/`var`, NumPy's `pad`, `split`, `dot`.
Dtypes follow Keras (`plait.ops.core`): Python floats become `floatx`, NumPy arrays keep their dtype; one
deliberate difference, Python ints are int64 (torch's index type) rather than int32.

Example:
    >>> from plait import ops
    >>> x = ops.convert_to_tensor([[1.0, -2.0], [3.0, 4.0]])
    >>> ops.sum(ops.relu(x), axis=1)
    tensor([1., 7.])
    >>> ops.argmax(ops.softmax(x), axis=-1)
    tensor([0, 1], dtype=torch.int32)
"""
from plait.ops import image, nn
from plait.ops.core import (cast, cond, convert_to_numpy, convert_to_tensor, dtype, is_tensor, ndim, shape, size,
                            slice, slice_update, stop_gradient, symbolic_dispatch, unstack, vectorized_map)
from plait.ops.creation import arange, eye, full, full_like, identity, linspace, ones, ones_like, zeros, zeros_like
from plait.ops.elementwise import (abs, absolute, add, arctan, ceil, clip, cos, cosh, divide, erf, exp, expm1, floor,
                                   floor_divide, log, log1p, log2, log10, maximum, minimum, mod, multiply, negative,
                                   power, reciprocal, round, rsqrt, sign, sin, sinh, sqrt, square, subtract, tan,
                                   tanh, true_divide, trunc)
from plait.ops.linalg import dot, einsum, matmul, norm, outer, tensordot
from plait.ops.logic import (equal, greater, greater_equal, isclose, isfinite, isinf, isnan, less, less_equal,
                             logical_and, logical_not, logical_or, logical_xor, not_equal, where)
from plait.ops.manipulation import (broadcast_to, concatenate, expand_dims, flip, moveaxis, pad, ravel, repeat,
                                    reshape, roll, split, squeeze, stack, swapaxes, take, take_along_axis, tile,
                                    transpose)
from plait.ops.nn import (average_pool, batch_normalization, binary_crossentropy, categorical_crossentropy, celu,
                          conv, depthwise_conv, dot_product_attention, elu, gelu, glu, hard_shrink, hard_sigmoid,
                          hard_silu, hard_swish, hard_tanh, leaky_relu, log_sigmoid, log_softmax, max_pool, moments,
                          multi_hot, normalize, one_hot, relu, relu6, selu, separable_conv, sigmoid, silu,
                          soft_shrink, softmax, softplus, softsign, sparse_categorical_crossentropy, sparse_plus,
                          sparse_sigmoid, sparsemax, squareplus, swish, tanh_shrink, threshold)
from plait.ops.reductions import (all, amax, amin, any, cumprod, cumsum, logsumexp, max, mean, min, prod, std, sum,
                                  var)
from plait.ops.sorting import argmax, argmin, argsort, in_top_k, sort, top_k

__all__ = [
    "abs", "absolute", "add", "all", "amax", "amin", "any", "arange", "arctan", "argmax", "argmin", "argsort",
    "average_pool", "batch_normalization", "binary_crossentropy", "broadcast_to", "cast", "categorical_crossentropy",
    "ceil", "celu", "clip", "concatenate", "cond", "conv", "convert_to_numpy", "convert_to_tensor", "cos", "cosh",
    "cumprod", "cumsum", "depthwise_conv", "divide", "dot", "dot_product_attention", "dtype", "einsum", "elu",
    "equal", "erf", "exp", "expand_dims", "expm1", "eye", "flip", "floor", "floor_divide", "full", "full_like",
    "gelu", "glu", "greater", "greater_equal", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
    "identity", "image", "in_top_k", "is_tensor", "isclose", "isfinite", "isinf", "isnan", "leaky_relu", "less",
    "less_equal", "linspace", "log", "log10", "log1p", "log2", "log_sigmoid", "log_softmax", "logical_and",
    "logical_not", "logical_or", "logical_xor", "logsumexp", "matmul", "max", "max_pool", "maximum", "mean", "min",
    "minimum", "mod", "moments", "moveaxis", "multi_hot", "multiply", "ndim", "negative", "nn", "norm", "normalize",
    "not_equal", "one_hot", "ones", "ones_like", "outer", "pad", "power", "prod", "ravel", "reciprocal", "relu",
    "relu6", "repeat", "reshape", "roll", "round", "rsqrt", "selu", "separable_conv", "shape", "sigmoid", "sign",
    "silu", "sin", "sinh", "size", "slice", "slice_update", "soft_shrink", "softmax", "softplus", "softsign", "sort",
    "sparse_categorical_crossentropy", "sparse_plus", "sparse_sigmoid", "sparsemax", "split", "sqrt", "square",
    "squareplus", "squeeze", "stack", "std", "stop_gradient", "subtract", "sum", "swapaxes", "swish", "take",
    "take_along_axis", "tan", "tanh", "tanh_shrink", "tensordot", "threshold", "tile", "top_k", "transpose",
    "true_divide", "trunc", "unstack", "var", "vectorized_map", "where", "zeros", "zeros_like",
]

# Every op hands calls on symbolic tensors (`ops.relu(plait.Input(...))`) to the handler the layers register
# (`plait.ops.core.set_symbolic_handler`); without one, or on real tensors, it runs the op directly.
for _name in __all__:
    if _name not in ("image", "nn", "is_tensor", "shape", "ndim", "dtype", "size"):
        globals()[_name] = symbolic_dispatch(globals()[_name])
del _name
