"""Reference solutions for lesson 08."""
import numpy as np

from .lesson02 import my_conv2d, my_conv2d_backward
from .lesson03 import my_relu_backward
from .lesson04 import my_avgpool, my_avgpool_backward, my_maxpool, my_maxpool_backward
from .lesson05 import my_linear_backward, my_softmax, my_softmax_ce_backward


def my_conv_params(in_channels, out_channels, kernel_size, groups):
    weights = out_channels * (in_channels // groups) * kernel_size * kernel_size
    return weights + out_channels


def my_conv_flops(in_channels, out_channels, kernel_size, groups, out_h, out_w):
    macs_per_output = (in_channels // groups) * kernel_size * kernel_size
    return 2 * out_channels * out_h * out_w * macs_per_output


def _conv5x5(x, W, b):
    """The Figure 1 network's convolutions: 5x5, padding 2, with the stride-1 my_conv2d."""
    return my_conv2d(np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2))), W, b)


def my_figure1(params, x, y):
    p = params
    # forward, keeping what each backward pass needs
    c1 = _conv5x5(x, p["conv1.W"], p["conv1.b"])
    p1 = my_maxpool(c1)
    r1 = np.maximum(p1, 0)
    c2 = _conv5x5(r1, p["conv2.W"], p["conv2.b"])
    r2 = np.maximum(c2, 0)
    a2 = my_avgpool(r2)
    c3 = _conv5x5(a2, p["conv3.W"], p["conv3.b"])
    r3 = np.maximum(c3, 0)
    a3 = my_avgpool(r3)
    h = a3.reshape(len(x), -1)
    logits = h @ p["fc.W"].T + p["fc.b"]
    loss = -np.log(my_softmax(logits)[np.arange(len(y)), y]).mean()
    # backward, layer by layer in reverse
    grads = {}
    d = my_softmax_ce_backward(logits, y)
    dh, grads["fc.W"], grads["fc.b"] = my_linear_backward(d, h, p["fc.W"])
    d = my_relu_backward(my_avgpool_backward(dh.reshape(a3.shape), r3.shape), c3)
    d, grads["conv3.W"], grads["conv3.b"] = my_conv2d_backward(d, a2, p["conv3.W"], 1, 2)
    d = my_relu_backward(my_avgpool_backward(d, r2.shape), c2)
    d, grads["conv2.W"], grads["conv2.b"] = my_conv2d_backward(d, r1, p["conv2.W"], 1, 2)
    d = my_maxpool_backward(my_relu_backward(d, p1), c1)
    _, grads["conv1.W"], grads["conv1.b"] = my_conv2d_backward(d, x, p["conv1.W"], 1, 2)  # dx: nobody needs it
    return loss, grads
