"""Lesson 3: the non-linearities of section 3.1, ReLU and tanh."""
import numpy as np


def relu(x):
    """Exercise 3.1. max(0, x), any shape."""
    raise NotImplementedError("Exercise 3.1: relu in mynet/activations.py")  # your code here


def relu_backward(dout, x):
    """Exercise 3.1. dL/dx for out = relu(x), given dL/dout and the input x (the slope at 0 taken as 0)."""
    raise NotImplementedError("Exercise 3.1: relu_backward in mynet/activations.py")  # your code here


def tanh(x):
    """Exercise 3.2. tanh(x), any shape."""
    raise NotImplementedError("Exercise 3.2: tanh in mynet/activations.py")  # your code here


def tanh_backward(dout, x):
    """Exercise 3.2. dL/dx for out = tanh(x), given dL/dout and the INPUT x."""
    raise NotImplementedError("Exercise 3.2: tanh_backward in mynet/activations.py")  # your code here
