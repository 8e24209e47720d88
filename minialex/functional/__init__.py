"""The maths of AlexNet: every operation as a pure forward/backward pair.

In the style of CS231n's ``layers.py``: ``*_forward(x, ...)`` returns
``(out, cache)``, ``*_backward(dout, cache)`` returns the gradients, and the
shapes are in each docstring (images NCHW). Each is written once, with
``get_array_module``, so it runs on NumPy and CuPy, in the layout the lessons
teach. These are the definitions: ``naive.py`` spells the hardest ones out
as loops, and the fast paths (``minialex.fast``, chosen by
``minialex.dispatch``) are tested against them.
"""
from .activations import relu_backward, relu_forward, tanh_backward, tanh_forward
from .batchnorm import batch_statistics, batchnorm_backward, batchnorm_forward
from .conv import col2im, conv2d_backward, conv2d_forward, im2col
from .dropout import dropout_backward, dropout_forward, dropout_mask
from .linear import linear_backward, linear_forward
from .loss import log_softmax, softmax, softmax_cross_entropy_backward, softmax_cross_entropy_forward
from .lrn import lrn_backward, lrn_forward
from .pooling import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward
from .sizes import conv_output_size, pool_output_size

__all__ = ["conv2d_forward", "conv2d_backward", "im2col", "col2im", "maxpool2d_forward", "maxpool2d_backward",
           "avgpool2d_forward", "avgpool2d_backward", "lrn_forward", "lrn_backward", "dropout_mask",
           "dropout_forward", "dropout_backward", "linear_forward", "linear_backward", "relu_forward",
           "relu_backward", "tanh_forward", "tanh_backward", "log_softmax", "softmax",
           "softmax_cross_entropy_forward", "softmax_cross_entropy_backward", "conv_output_size",
           "pool_output_size", "batch_statistics", "batchnorm_forward", "batchnorm_backward"]
