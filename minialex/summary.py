"""A layer table: output shape, parameters and forward FLOPs of every layer."""
import numpy as np

from .layers import AvgPool2d, Conv2d, Linear, LocalResponseNorm, MaxPool2d


def layer_flops(layer, in_shape, out_shape):
    """Forward floating-point operations for ONE image (a multiply-add counts 2).

    Convolutions and linear layers are exact; for the rest we count the obvious
    per-element work (a k*k window per pooled output, a window sum and a power
    per LRN output, one operation per element otherwise).
    """
    out_elems = int(np.prod(out_shape[1:]))
    if isinstance(layer, Conv2d):
        kh, kw = layer.kernel_size
        return 2 * out_elems * (layer.in_channels // layer.groups) * kh * kw
    if isinstance(layer, Linear):
        return 2 * layer.in_features * layer.out_features
    if isinstance(layer, (MaxPool2d, AvgPool2d)):
        return out_elems * layer.kernel_size ** 2
    if isinstance(layer, LocalResponseNorm):
        return out_elems * (layer.size + 4)
    return out_elems


def summary(model, input_shape):
    """Rows (name, layer, output shape, parameters, FLOPs, output bytes) for one image of
    ``input_shape`` = (C, H, W), found by running one forward pass; returns
    (rows, text) where text is a printable table with totals."""
    x = np.zeros((1, *input_shape), dtype=next(iter(model.parameters()))[1].params["W"].dtype)
    was_training = model.training
    model.eval()
    rows = []
    for name, layer in zip(model.names, model.layers):
        out = layer.forward(x)
        params = sum(int(np.prod(p.shape)) for p in layer.params.values())
        rows.append((name, repr(layer), tuple(out.shape[1:]), params, layer_flops(layer, x.shape, out.shape),
                     out[0].nbytes))
        x = out
    if was_training:
        model.train()
    header = f"{'layer':<8} {'type':<60} {'output':>16} {'params':>12} {'FLOPs':>15} {'output KiB':>11}"
    lines = [header, "-" * len(header)]
    lines += [f"{n:<8} {t:<60} {'x'.join(map(str, s)):>16} {p:>12,} {f:>15,} {m / 1024:>11,.0f}"
              for n, t, s, p, f, m in rows]
    lines += ["-" * len(header), f"{'total':<8} {'':<60} {'':>16} {sum(r[3] for r in rows):>12,} "
                                 f"{sum(r[4] for r in rows):>15,} {sum(r[5] for r in rows) / 1024:>11,.0f}"]
    return rows, "\n".join(lines)
