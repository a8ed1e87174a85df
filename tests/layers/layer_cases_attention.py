"""Harness cases of the attention layers and of GroupNormalization and UnitNormalization (merged into
`test_every_layer.CASES`).

The multi-head layers take Keras's `layer(query, value)`; called on one list `[query, value(, key)]`, as the
harness calls every multi-input layer, they read it the same way, so they run the harness like any other layer.
"""
from layer_harness import case

# use_bias=False on the multi-head layers: the key projection's bias adds the same number to every score of a query,
# which the softmax cancels, so its gradient is exactly zero and the harness's "every weight moves in a fit step"
# cannot hold for it (in Keras neither). test_attention.py checks the biases' gradients against a reference instead.
CASES = {
    # output keeps the query's shape: (batch, query length, query features)
    "MultiHeadAttention": case({"num_heads": 2, "key_dim": 3, "use_bias": False, "kernel_initializer": "he_uniform"},
                               [(4, 5, 8), (4, 6, 8)], (4, 5, 8)),
    # query (4, 5, 8) over value (4, 6, 8): the value's features, at the query's length
    "Attention": case({"use_scale": True, "score_mode": "concat"}, [(4, 5, 8), (4, 6, 8)], (4, 5, 8)),
    "AdditiveAttention": case({}, [(4, 5, 8), (4, 6, 3), (4, 6, 8)], (4, 5, 3)),
    "GroupedQueryAttention": case({"head_dim": 3, "num_query_heads": 4, "num_key_value_heads": 2,
                                   "use_bias": False},
                                  [(4, 5, 8), (4, 6, 7)], (4, 5, 8)),
    "GroupNormalization": case({"groups": 2}, (4, 3, 6), (4, 3, 6)),
    "UnitNormalization": case({"axis": [1, 2]}, (4, 3, 6), (4, 3, 6)),
}
