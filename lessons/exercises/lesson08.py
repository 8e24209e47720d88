"""Checks for lesson 08, AlexNet assembled: counting parameters and FLOPs."""
import numpy as np

from minialex.layers import Conv2d
from minialex.summary import layer_flops

from . import ExerciseFailed

# (in_channels, out_channels, kernel_size, groups): AlexNet's five convolutions and two odd ones
CONVS = [(3, 96, 11, 1), (96, 256, 5, 2), (256, 384, 3, 1), (384, 384, 3, 2), (384, 256, 3, 2),
         (1, 32, 5, 1), (12, 8, 3, 4)]


def check_conv_params(my_conv_params):
    """my_conv_params(in_channels, out_channels, kernel_size, groups) -> number of weights
    plus biases of that convolution."""
    for cin, cout, k, g in CONVS:
        want = sum(int(np.prod(p.shape)) for p in Conv2d(cin, cout, k, groups=g).params.values())
        got = my_conv_params(cin, cout, k, g)
        if got == want:
            continue
        if got == cin * cout * k * k + cout:
            raise ExerciseFailed(f"conv({cin}, {cout}, {k}x{k}, groups={g}): with groups each kernel sees only "
                                 f"in_channels / groups = {cin // g} channels")
        if got == want - cout:
            raise ExerciseFailed(f"conv({cin}, {cout}, {k}x{k}, groups={g}): add one bias per kernel")
        raise ExerciseFailed(f"conv({cin}, {cout}, {k}x{k}, groups={g}): expected {want:,}, got {got}")


def check_conv_flops(my_conv_flops):
    """my_conv_flops(in_channels, out_channels, kernel_size, groups, out_h, out_w) -> forward
    floating-point operations for one image (a multiply-add counts as 2; biases not counted)."""
    sizes = [55, 27, 13, 13, 13, 28, 6]
    for (cin, cout, k, g), size in zip(CONVS, sizes):
        conv = Conv2d(cin, cout, k, groups=g)
        out_shape = (1, cout, size, size)
        want = layer_flops(conv, None, out_shape)
        got = my_conv_flops(cin, cout, k, g, size, size)
        if got == want:
            continue
        if got * 2 == want:
            raise ExerciseFailed("half the answer: a multiply-add is 2 operations")
        if got == want * g and g > 1:
            raise ExerciseFailed("with groups, each output sees only in_channels / groups input channels")
        raise ExerciseFailed(f"conv({cin}, {cout}, {k}x{k}, groups={g}) to {size}x{size}: "
                             f"expected {want:,}, got {got}")
