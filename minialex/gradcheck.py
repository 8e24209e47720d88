"""Gradient checking: compare a hand-written backward pass with finite differences.

For a scalar function f of an array x, the centred difference

    (f(x + h e_i) - f(x - h e_i)) / 2h

approximates df/dx_i with error O(h^2). It is only trustworthy in float64: in
float32 the rounding error of f (about 1e-7 relative) divided by 2h swamps the
answer. Cast the layer and its input to float64 before checking.

To check a layer, which outputs an array, we make a scalar from it:
L = sum(forward(x) * dout) for a fixed random ``dout``. Then dL/d(output) is
exactly ``dout``, and ``backward(dout)`` must return dL/dx. We subtract the two
perturbed outputs element by element *before* weighting and summing: summing
first would cancel two large, nearly equal totals and lose digits.
"""
import numpy as np

from .backend import get_array_module, to_numpy


def rel_error(a, b):
    """max over elements of |a - b| / max(1e-8, |a| + |b|)."""
    a, b = to_numpy(a).astype(np.float64), to_numpy(b).astype(np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))) if a.size else 0.0


def numerical_gradient(f, x, h=1e-5, dout=1.0):
    """Centred-difference gradient of sum(f() * dout) with respect to the array
    ``x``, which is perturbed in place one element at a time (and restored).
    ``f`` returns a scalar (a loss) or an array (a layer's output)."""
    xp = get_array_module(x)
    grad = xp.zeros(x.shape, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = float(flat[i])
        flat[i] = old + h
        f_plus = xp.array(f(), dtype=np.float64)  # a copy: f() may return a view of x
        flat[i] = old - h
        f_minus = xp.array(f(), dtype=np.float64)
        flat[i] = old
        gflat[i] = float(xp.sum((f_plus - f_minus) * dout)) / (2 * h)
    return grad


def _require_float64(*arrays):
    for a in arrays:
        if a.dtype != np.float64:
            raise ValueError(f"gradcheck needs float64 arrays (got {a.dtype}): float32 rounding "
                             "error divided by 2h would swamp the derivative. Use .to(dtype=np.float64).")


def check_layer(layer, x, dout=None, h=1e-5, seed=0, before_forward=None):
    """Relative errors {"x": ..., "W": ..., ...} between ``layer.backward`` and
    finite differences, for the input and every parameter.

    ``before_forward()`` runs before every forward pass: use it to make a random
    layer repeat itself (e.g. reseed a dropout mask).
    """
    _require_float64(x, *layer.params.values())
    xp = get_array_module(x)
    before = before_forward or (lambda: None)
    before()
    out = layer.forward(x)
    if dout is None:
        dout = xp.asarray(np.random.default_rng(seed).standard_normal(out.shape))

    def output():
        before()
        return layer.forward(x)

    before()
    layer.forward(x)
    dx = layer.backward(dout)
    analytic = {name: g.copy() for name, g in layer.grads.items()}
    errors = {}
    if dx is not None:
        errors["x"] = rel_error(dx, numerical_gradient(output, x, h, dout))
    for name, g in analytic.items():
        errors[name] = rel_error(g, numerical_gradient(output, layer.params[name], h, dout))
    return errors


def check_model(model, loss_fn, x, labels, h=1e-5, before_forward=None):
    """Like ``check_layer`` for a whole network and its loss: relative errors for
    every parameter ("conv1.W", ...) and, if the model returns it, the input ("x")."""
    _require_float64(x, *model.named_parameters().values())
    before = before_forward or (lambda: None)

    def loss():
        before()
        return loss_fn.forward(model.forward(x), labels)

    loss()
    dx = model.backward(loss_fn.backward())
    analytic = {name: g.copy() for name, g in model.named_grads().items()}
    errors = {}
    if dx is not None:
        errors["x"] = rel_error(dx, numerical_gradient(loss, x, h))
    for name, owner, key in model.parameter_slots():
        errors[name] = rel_error(analytic[name], numerical_gradient(loss, owner.params[key], h))
    return errors


def check_loss(loss_fn, logits, labels, h=1e-5):
    """Relative error of ``loss_fn.backward()`` against finite differences in the logits."""
    _require_float64(logits)
    loss_fn.forward(logits, labels)
    analytic = loss_fn.backward()
    return rel_error(analytic, numerical_gradient(lambda: loss_fn.forward(logits, labels), logits, h))
