"""Non-linearities: ReLU (the paper's choice, section 3.1) and tanh (what it replaced).
The maths: minialex/functional/activations.py. Any shape."""
from ..functional import relu_backward, relu_forward, tanh_backward, tanh_forward
from .layer import Layer


class ReLU(Layer):
    """f(x) = max(0, x). Its gradient is 1 where x > 0 and 0 elsewhere, so it
    never saturates for positive inputs: the reason deep ReLU nets train
    several times faster than tanh nets (Figure 1)."""

    def forward(self, x):
        self._check_input(x)
        out, self._mask = relu_forward(x)
        return out

    def backward(self, dout):
        return relu_backward(dout, self._mask)


class Tanh(Layer):
    """f(x) = tanh(x); f'(x) = 1 - tanh(x)^2, which vanishes for |x| >> 1 (saturation)."""

    def forward(self, x):
        self._check_input(x)
        out, self._out = tanh_forward(x)
        return out

    def backward(self, dout):
        return tanh_backward(dout, self._out)
