"""Flatten: the bridge from feature maps to fully connected layers."""
import numpy as np

from .layer import Layer


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W), in C-order (channel, row, column)."""

    def output_shape(self, input_shape):
        return (input_shape[0], int(np.prod(input_shape[1:])))

    def forward(self, x):
        self._check_input(x)
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self._shape)
