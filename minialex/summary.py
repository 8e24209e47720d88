"""A layer table: output shape, parameters and forward FLOPs of every layer.

Each layer counts its own FLOPs (``Layer.flops``): convolutions and linear
layers exactly; pooling a k*k window per output, LRN a window sum and a power
per output, one operation per element otherwise.
"""
import numpy as np


def layer_flops(layer, in_shape, out_shape):
    """Forward floating-point operations of ``layer`` for ONE image (a multiply-add counts 2)."""
    return layer.flops(in_shape, out_shape)


def summary(model, input_size):
    """Rows (name, layer, output shape, parameters, FLOPs, output bytes) for one image of ``input_size``,
    (C, H, W) or torchinfo's (N, C, H, W) (the table is per image, whatever N), found by running one
    forward pass in eval mode. Returns a ``ModelSummary``: printed (or shown by a notebook) it is the table
    with totals, as torchinfo's; ``rows, text = summary(...)`` unpacks it. Also ``model.summary(input_size)``."""
    if len(input_size) not in (3, 4):
        raise ValueError(f"summary: input_size is (C, H, W) or (N, C, H, W), got {tuple(input_size)}")
    x = np.zeros((1, *input_size[-3:]), dtype=model.parameters()[0].dtype)
    was_training = model.training
    model.eval()
    rows = []
    try:
        for name, layer in zip(model.names, model.layers):
            out = layer.forward(x)
            params = sum(int(np.prod(p.shape)) for p in layer.params.values())
            rows.append((name, repr(layer), tuple(out.shape[1:]), params, layer_flops(layer, x.shape, out.shape),
                         out[0].nbytes))
            x = out
    finally:
        if was_training:
            model.train()
    name_width = max(len("layer"), *(len(r[0]) for r in rows))
    type_width = max(len(r[1]) for r in rows)  # the longest description sets the column, so every row lines up
    header = (f"{'layer':<{name_width}} {'type':<{type_width}} {'output':>16} {'params':>12} {'FLOPs':>15} "
              f"{'output KiB':>11}")
    lines = [header, "-" * len(header)]
    lines += [f"{n:<{name_width}} {t:<{type_width}} {'x'.join(map(str, s)):>16} {p:>12,} {f:>15,} {m / 1024:>11,.0f}"
              for n, t, s, p, f, m in rows]
    lines += ["-" * len(header), f"{'total':<{name_width}} {'':<{type_width}} {'':>16} {sum(r[3] for r in rows):>12,} "
                                 f"{sum(r[4] for r in rows):>15,} {sum(r[5] for r in rows) / 1024:>11,.0f}"]
    return ModelSummary(rows, "\n".join(lines))


class ModelSummary:
    """The table of ``summary``: ``.rows`` (one tuple per layer) and ``.text``; prints as the text."""

    def __init__(self, rows, text):
        self.rows, self.text = rows, text

    def __iter__(self):  # rows, text = summary(...)
        return iter((self.rows, self.text))

    def __getitem__(self, i):  # summary(...)[0]: the rows, as when it was a pair
        return (self.rows, self.text)[i]

    def __str__(self):
        return self.text

    __repr__ = __str__
