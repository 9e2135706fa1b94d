"""QAT annotation that reproduces the PTQ placement of {{FILE}}.

Written by tflq {{VERSION}} (`tflq plan --format python`). Use it as:

    import plan
    qat_model = plan.quantize_model(float_model)   # then compile, fine-tune, convert

`annotate(model)` returns the annotated clone without applying it, and SCOPE
holds the QuantizeConfig classes for tfmot.quantization.keras.quantize_scope
(needed to load a saved QAT model). When CALIBRATE is not empty, convert the
QAT model with a representative dataset too: those layers' tensors get no
range from QAT. `decide(model)` says what `annotate` does with every layer and
why, and NOT_REPRODUCED lists what no annotation can make match PTQ.
`identical_layers(model)` maps each layer to the layers the converter merges
into one op with it (same class and config, called on the same input): the
file names that op after one of them, and all of them take its annotation (a
`tflq compare` culprit with `twins` set stands for them too).
"""

import contextlib
import warnings

import tensorflow as tf  # noqa: F401  (tfmot needs TensorFlow imported first)
import tf_keras as keras
import tensorflow_model_optimization as tfmot
from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
    default_8bit_quantize_registry,
)

_qk = tfmot.quantization.keras
_REGISTRY = default_8bit_quantize_registry.Default8BitQuantizeRegistry()

# What tfmot does with Keras layers (tflq's rules, tfmot 0.8 default 8-bit scheme).
# Kernels tfmot can quantize per output channel.
_PER_AXIS_CLASSES = {{PER_AXIS_CLASSES}}
# Layers a following BatchNormalization folds into.
_BN_FOLDS_INTO = {{BN_FOLDS_INTO}}
# Layers the registry does not list but tfmot's transforms take with its default.
_TRANSFORMED_CLASSES = {{TRANSFORMED_CLASSES}}
# Activations the default configs accept inside a layer, and in an Activation layer.
_LAYER_ACTIVATIONS = {{LAYER_ACTIVATIONS}}
_ACTIVATION_LAYER = {{ACTIVATION_LAYER}}


class _PlanConfig(_qk.QuantizeConfig):
    """Quantizes WEIGHTS (symmetric 8-bit; per output channel if PER_AXIS and
    tfmot can for the layer) and, if OUTPUT, the output (asymmetric 8-bit moving
    average), as PTQ does."""

    WEIGHTS = ()
    PER_AXIS = False
    OUTPUT = False

    def _weights(self, layer):
        return [w for w in self.WEIGHTS if hasattr(layer, w)]

    def _per_axis(self, layer, weight):
        return (self.PER_AXIS and type(layer).__name__ in _PER_AXIS_CLASSES
                and len(getattr(layer, weight).shape) == 4)

    def get_weights_and_quantizers(self, layer):
        return [
            (getattr(layer, w), _qk.quantizers.{{WEIGHT_QUANTIZER}}(
                num_bits={{WEIGHT_BITS}}, per_axis=self._per_axis(layer, w), symmetric={{WEIGHT_SYMMETRIC}},
                narrow_range={{WEIGHT_NARROW_RANGE}}))
            for w in self._weights(layer)
        ]

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        for name, value in zip(self._weights(layer), quantize_weights):
            setattr(layer, name, value)

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        if not self.OUTPUT:
            return []
        return [_qk.quantizers.{{OUTPUT_QUANTIZER}}(
            num_bits={{OUTPUT_BITS}}, per_axis=False, symmetric={{OUTPUT_SYMMETRIC}}, narrow_range={{OUTPUT_NARROW_RANGE}})]

    def get_config(self):
        return {}
{{CONFIG_CLASSES}}

SCOPE = {{SCOPE}}

# Layer name -> QuantizeConfig class, or None for tfmot's default registry.
PLAN = {
{{PLAN}}}

# Layers PTQ folds into another layer's op (BatchNormalization, activations) -> that layer.
FOLDED = {
{{FOLDED}}}

# For `None` entries whose layer tfmot's registry does not take as it is (a
# TFOpLambda where the op usually comes from a registry layer, a Conv1D, an
# activation its default configs reject): the config PTQ's facts call for.
FALLBACK = {
{{FALLBACK}}}

{{FLOAT_COMMENT}}
FLOAT = [{{FLOAT}}]

# No tfmot annotation reproduces PTQ here: left unannotated (see why).
UNSUPPORTED = {
{{UNSUPPORTED}}}

# Layers whose integer tensors QAT cannot give a range: convert the QAT model
# with a representative dataset as well (converter.representative_dataset), and
# the converter calibrates exactly those, keeping the trained ranges. Read it
# after annotate() or quantize_model(), which add the model's layers they
# leave unannotated although PTQ fused them into a neighbour's op.
CALIBRATE = [{{CALIBRATE}}]

# decide() adds the layers it leaves unannotated whose ops PTQ fused into a neighbour's.
_CALIBRATE_PLANNED = list(CALIBRATE)

# Filled by annotate(): layer -> why tfmot cannot give it PTQ's placement in this model.
NOT_REPRODUCED = {}


def _activation_ok(layer):
    activation = getattr(layer, "activation", None)
    if activation is None:
        return True
    name = getattr(activation, "__name__", None)
    allowed = _ACTIVATION_LAYER if isinstance(layer, keras.layers.Activation) else _LAYER_ACTIVATIONS
    return name in allowed


def _default_ok(layer):
    """tfmot's registry default works for this layer as it is."""
    taken = _REGISTRY.supports(layer) or type(layer).__name__ in _TRANSFORMED_CLASSES
    return taken and _activation_ok(layer)


def _is_batchnorm(layer):
    return type(layer).__name__ in {{BATCH_NORM_CLASSES}}


def _fused_unnamed_conv(bn):
    """`bn` is named by the PTQ file but fed by one layer with a kernel that
    the file does not name at all."""
    sources = _inbound(bn)
    return (bn.name in PLAN and len(sources) == 1 and hasattr(sources[0], {{KERNEL}})
            and sources[0].name not in PLAN and sources[0].name not in FOLDED)


def _is_linear(layer):
    return getattr(getattr(layer, "activation", None), "__name__", "linear") == "linear"


def _inbound(layer):
    """The layers feeding `layer`, over all the nodes it is called at."""
    found = []
    for node in layer._inbound_nodes:
        for source in tf.nest.flatten(node.inbound_layers):
            if source not in found:
                found.append(source)
    return found


def identical_layers(model):
    """{layer name: the other layers of `model` the converter merges into one
    op with it}, for the layers that have any: layers without weights, of one
    class and config, called on the same tensors, which the converter computes
    once (one op, named after one of them). They take one annotation."""
    groups = {}
    for layer in model.layers:
        if layer.weights or isinstance(layer, keras.layers.InputLayer):
            continue
        config = layer.get_config()
        config.pop("name", None)
        config = repr(sorted(config.items()))
        for node in layer._inbound_nodes:
            tensors = tuple(id(t) for t in tf.nest.flatten(node.input_tensors))
            groups.setdefault((type(layer).__name__, config, tensors), []).append(layer.name)
    twins = {}
    for names in groups.values():
        for name in names:
            for other in names:
                if other != name and other not in twins.setdefault(name, []):
                    twins[name].append(other)
    return twins


def _named(name):
    return name in PLAN or name in FOLDED or name in FLOAT or name in UNSUPPORTED


def _variant(config, output):
    """`config`'s weight quantizers, with or without an output quantizer: a
    class of the same family, made once and added to SCOPE."""
    if config.OUTPUT == output:
        return config
    name = config.__name__
    name = name[:-len("Output")] + "Only" if name.endswith("Output") else (
        name[:-len("Only")] + "Output")
    if name not in SCOPE:
        doc = "%s, %s an output quantizer." % (config.__name__, "with" if output else "without")
        SCOPE[name] = type(name, (config,), {"OUTPUT": output, "__doc__": doc})
    return SCOPE[name]


def _fold(chosen, alone, owner, folded, fell_back, twins):
    """Give the layers PTQ folds into `owner` what makes them fold in QAT too."""
    owner_config = chosen[owner.name][0] if owner.name in chosen else None
    for layer in folded:
        if owner.name not in chosen:
            alone[layer.name] = "folds into %s, which is left unannotated" % owner.name
        elif not _is_batchnorm(layer):
            # tfmot's default where it takes the layer; a layer its registry
            # lacks (a custom scale layer) is wrapped with no quantizer.
            plain = owner_config is None and _default_ok(layer)
            chosen[layer.name] = (None if plain else _NO_QUANTIZER,
                                  "folded into %s, as PTQ folds it" % owner.name)
        elif owner not in _inbound(layer):
            # The converter folded it forward, into the layer after it (a
            # Dense's bias and BatchNorm into the next Dense): no QAT graph
            # keeps that op without the BatchNorm's own quantizer.
            why = "PTQ folds this BatchNormalization into the layer after it (%s)" % owner.name
            alone[layer.name] = why
            NOT_REPRODUCED[layer.name] = why
        elif type(owner).__name__ in _BN_FOLDS_INTO and _is_linear(owner):
            chosen[layer.name] = (None if owner_config is None else _NO_QUANTIZER,
                                  "folded into %s, as PTQ folds it" % owner.name)
        else:
            why = "tfmot cannot fold a BatchNormalization into a %s" % type(owner).__name__
            alone[layer.name] = why
            NOT_REPRODUCED[layer.name] = "%s (%s), which PTQ folds it into" % (why, owner.name)
    # An owner that fell back to a config of its own keeps its weights; the
    # outermost activation folded into it carries the output quantizer.
    feeding = _inbound(owner)  # a padding PTQ folds in front of the owner
    activations = [layer for layer in folded if not _is_batchnorm(layer)
                   and layer.name in chosen and layer not in feeding]
    if fell_back and activations and owner_config is not None:
        chosen[owner.name] = (_variant(owner_config, False), chosen[owner.name][1])
        outer = activations[-1].name
        for name in [outer] + [t for t in twins.get(outer, ()) if t in chosen]:
            chosen[name] = (_variant(_NO_QUANTIZER, True),
                            "carries the output of %s, as PTQ fuses them" % owner.name)


def decide(model):
    """{layer name: (QuantizeConfig class or None for tfmot's default, why)} for
    every layer annotate() wraps, and {layer name: why} for those it leaves alone."""
    NOT_REPRODUCED.clear()
    CALIBRATE[:] = _CALIBRATE_PLANNED
    chosen, alone, fell_back = {}, {}, set()
    folds_into = {}  # owner name -> the layers folded into it, innermost first
    by_name = {layer.name: layer for layer in model.layers}
    twins = identical_layers(model)
    for layer in model.layers:
        name = layer.name
        # TFOpLambda layers cannot be wrapped; input layers need no quantizer.
        if isinstance(layer, keras.layers.InputLayer) or type(layer).__name__ == "TFOpLambda":
            continue
        # A layer the file does not name, merged into one op with a twin it
        # does name, is decided as that twin is.
        key = name if _named(name) else next((t for t in twins.get(name, ()) if _named(t)), name)
        if key in FLOAT:
            alone[name] = "PTQ keeps it in float"
        elif key in UNSUPPORTED:
            alone[name] = UNSUPPORTED[key]
            if key not in CALIBRATE:  # the converter's calibration gives those PTQ's placement
                NOT_REPRODUCED[name] = UNSUPPORTED[key]
            elif name not in CALIBRATE:
                CALIBRATE.append(name)
        elif key in FOLDED and FOLDED[key] in by_name:
            folds_into.setdefault(FOLDED[key], []).append(layer)
        elif _is_batchnorm(layer) and _fused_unnamed_conv(layer):
            # PTQ named the op of a conv fused with this BatchNorm after the
            # BatchNorm alone (a grouped conv lowered outside its layer's
            # scope): the BatchNorm folds into the conv before it.
            folds_into.setdefault(_inbound(layer)[0].name, []).append(layer)
        elif _is_batchnorm(layer) and name not in PLAN:
            # Not named by the PTQ file: a BatchNormalization after a linear
            # layer is folded into it (the converter names the op after that
            # layer alone).
            sources = _inbound(layer)
            if len(sources) == 1:
                folds_into.setdefault(sources[0].name, []).append(layer)
            else:
                alone[name] = "a BatchNormalization of several inputs"
        elif key in PLAN:
            config = PLAN[key]
            if config is not None or _default_ok(layer):
                chosen[name] = (config, "the plan" if key == name else "the plan of its twin %s" % key)
            elif key in FALLBACK:
                fell_back.add(name)
                chosen[name] = (FALLBACK[key], "the plan's fallback: tfmot's default does not "
                                "take this %s as it is" % type(layer).__name__)
            else:
                alone[name] = "tfmot's default does not take this %s" % type(layer).__name__
        elif _default_ok(layer):
            chosen[name] = (None, "not named by the PTQ file; tfmot's registry supports it")
        else:
            # PTQ fused it into a neighbour's op: left unannotated, its output
            # has no trained range, so the converter calibrates it.
            alone[name] = "not named by the PTQ file, and tfmot's registry does not support it"
            if name not in CALIBRATE:
                CALIBRATE.append(name)
    for owner in model.layers:
        if owner.name in folds_into:
            _fold(chosen, alone, owner, folds_into[owner.name], owner.name in fell_back, twins)
    return chosen, alone


def annotate(model):
    """A clone of `model` (sharing its weights) with each layer annotated as
    decide() says: PLAN's configs, tfmot's default for registry layers the PTQ
    file does not name, and every BatchNormalization folded as PTQ folds it."""
    chosen, alone = decide(model)

    def clone(layer):
        fresh = layer.__class__.from_config(layer.get_config())
        if layer.name not in chosen:
            return fresh
        config = chosen[layer.name][0]
        return _qk.quantize_annotate_layer(fresh, quantize_config=config() if config else None)

    with _custom_objects(model):
        annotated = keras.models.clone_model(model, clone_function=clone)
    annotated.set_weights(model.get_weights())
    names = {layer.name for layer in model.layers}
    missing = sorted(set(PLAN) - names)
    left = sorted(name for name in alone if name not in FLOAT and name not in UNSUPPORTED)
    if missing or left:
        warnings.warn(
            "tflq plan: layers of the plan not in the model: %s; model layers left "
            "unannotated: %s" % (", ".join(missing) or "none",
                                 ", ".join("%s (%s)" % (n, alone[n]) for n in left) or "none"))
    if NOT_REPRODUCED:
        warnings.warn("tflq plan: PTQ's placement cannot be reproduced at: %s" % "; ".join(
            "%s: %s" % item for item in sorted(NOT_REPRODUCED.items())))
    return annotated


def _custom_objects(model):
    """A scope that knows the model's own layer classes (quantize_apply rebuilds
    every layer from its config) and, when the model holds Lambda layers, lets
    tf_keras rebuild their Python functions: the model is the caller's own,
    already in memory."""
    classes = {type(layer).__name__: type(layer) for layer in model.layers}
    scope = contextlib.ExitStack()
    scope.enter_context(keras.utils.custom_object_scope(classes))
    if any(isinstance(layer, keras.layers.Lambda) for layer in model.layers):
        from tf_keras.src.saving import serialization_lib

        scope.enter_context(serialization_lib.SafeModeScope(False))
    return scope


def quantize_model(model):
    """What tfmot.quantization.keras.quantize_model returns, following the plan."""
    annotated = annotate(model)  # may add config variants to SCOPE
    with _custom_objects(model), _qk.quantize_scope(SCOPE):
        return _qk.quantize_apply(annotated)
