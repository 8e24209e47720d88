"""Reference solutions for lesson 08."""


def my_conv_params(in_channels, out_channels, kernel_size, groups):
    weights = out_channels * (in_channels // groups) * kernel_size * kernel_size
    return weights + out_channels


def my_conv_flops(in_channels, out_channels, kernel_size, groups, out_h, out_w):
    macs_per_output = (in_channels // groups) * kernel_size * kernel_size
    return 2 * out_channels * out_h * out_w * macs_per_output
