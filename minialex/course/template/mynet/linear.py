"""Lesson 5: the fully connected layer, out = x @ W.T + b."""


def linear(x, W, b):
    """Exercise 5.3. x (N, in), W (out, in), b (out,) -> (N, out)."""
    raise NotImplementedError("Exercise 5.3: linear in mynet/linear.py")  # your code here


def linear_backward(dout, x, W):
    """Exercise 5.3. dout (N, out) -> (dx, dW, db)."""
    raise NotImplementedError("Exercise 5.3: linear_backward in mynet/linear.py")  # your code here
