"""Output-size arithmetic for sliding windows (convolution and pooling)."""
import math


def conv_output_size(size, kernel, stride, padding):
    """floor((size + 2*padding - kernel) / stride) + 1, e.g. AlexNet conv1: (227 - 11) / 4 + 1 = 55."""
    return (size + 2 * padding - kernel) // stride + 1


def pool_output_size(size, kernel, stride, padding, ceil_mode):
    """Like ``conv_output_size``; with ``ceil_mode`` a last partial window is kept.

    cuda-convnet, the authors' code, rounds up (32 -> 16 -> 8 -> 4 with 3x3/2
    pools). As in PyTorch, a window that would start in the right padding is
    dropped.
    """
    if not ceil_mode:
        return conv_output_size(size, kernel, stride, padding)
    out = math.ceil((size + 2 * padding - kernel) / stride) + 1
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out
