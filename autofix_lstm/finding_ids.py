"""The finding ids and severities: the contract the diagnosis, the strategy files and users' scripts share.

Kept apart from the diagnosis so that the strategy loader can check a file's ``findings:`` without
importing the diagnosis.
"""

# The finding ids are a public contract: the search, the report and users' scripts key on them.
FINDING_IDS = (
    "collapsed_output",
    "nan_output",
    "unscaled_inputs",
    "unscaled_target",
    "output_activation_range",
    "loss_activation_mismatch",
    "loss_target_mismatch",
    "head_width_mismatch",
    "bottleneck_layer",
    "vanishing_gradients",
    "exploding_gradients",
    "learning_rate_too_high",
    "learning_rate_too_low",
    "slow_optimizer",
    "too_few_steps",
    "dead_units",
    "excess_dropout",
    "heavy_regularization",
    "custom_initialization",
    "too_little_data",
    "class_imbalance",
    "nonstationary_target",
    "target_leakage",
    "constant_feature",
    "short_window",
    "stateful_state_leak",
)

# Most severe first; findings are sorted in this order.
SEVERITIES = ("error", "warning", "info")
