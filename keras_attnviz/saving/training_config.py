"""Compiling a loaded model with the training config saved in its file.

The config is the `training_config` attribute of an `.h5` file (Keras 2 or
3), or the `compile_config` of a `.keras` file written by tf.keras 2.13 to
2.15; Keras 3's own `.keras` files are compiled by Keras.

Keras 2 files name optimizers `Custom>Adam` with arguments Keras 3 dropped
(`lr`, `jit_compile`, `is_legacy_optimizer`, `decay`), give losses the
reduction `"auto"`, and wrap metric functions in `MeanMetricWrapper`; all are
mapped to their Keras 3 forms here.
"""

import warnings

import keras

_KERAS2_OPTIMIZER_ARGS = ("jit_compile", "is_legacy_optimizer", "decay")


def compile_model(model, training_config, custom_objects):
    """Compiles `model` as the `training_config` of its file says.

    Args:
        model: the loaded `keras.Model`.
        training_config: the parsed training config, with the optimizer
            under `optimizer_config`.
        custom_objects: dict of custom classes and functions.
    """
    optimizer = training_config.get("optimizer_config")
    if isinstance(optimizer, dict):
        optimizer = keras.optimizers.deserialize(
            _optimizer_config(optimizer), custom_objects=custom_objects
        )
    metrics = {
        key: _map(training_config.get(key), _metric, custom_objects)
        for key in ("metrics", "weighted_metrics")
    }
    for key, value in metrics.items():
        # Keras 2 keeps one list per output, also for a single output.
        if len(model.outputs) == 1 and _is_list_of_one_list(value):
            metrics[key] = value[0]
    model.compile(
        optimizer=optimizer,
        loss=_map(training_config.get("loss"), _loss, custom_objects),
        loss_weights=training_config.get("loss_weights"),
        **metrics,
    )


def _is_list_of_one_list(value):
    return isinstance(value, list) and len(value) == 1 and isinstance(value[0], list)


def _map(value, function, custom_objects):
    if isinstance(value, list):
        return [_map(item, function, custom_objects) for item in value]
    if isinstance(value, dict) and "class_name" not in value:
        return {k: _map(v, function, custom_objects) for k, v in value.items()}
    if isinstance(value, dict):
        return function(value, custom_objects)
    return value


def _optimizer_config(config):
    class_name = config["class_name"].removeprefix("Custom>")
    arguments = dict(config["config"])
    if "lr" in arguments:
        arguments["learning_rate"] = arguments.pop("lr")
    if arguments.get("decay"):
        warnings.warn(
            f"The optimizer was saved with `decay={arguments['decay']}`, which "
            "Keras 3 optimizers do not take; it is compiled without it. Pass a "
            "`keras.optimizers.schedules.InverseTimeDecay` learning rate to "
            "keep decaying.",
            stacklevel=4,
        )
    for name in _KERAS2_OPTIMIZER_ARGS:
        arguments.pop(name, None)
    return {"class_name": class_name, "config": arguments}


def _loss(config, custom_objects):
    arguments = dict(config["config"])
    arguments.pop("fn", None)
    if arguments.get("reduction") == "auto":
        arguments["reduction"] = "sum_over_batch_size"
    return keras.losses.deserialize(
        {"class_name": config["class_name"], "config": arguments},
        custom_objects=custom_objects,
    )


def _metric(config, custom_objects):
    if config["class_name"] == "MeanMetricWrapper":
        return config["config"]["fn"]
    return keras.metrics.deserialize(config, custom_objects=custom_objects)
