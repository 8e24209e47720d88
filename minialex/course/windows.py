"""What the graders of lessons 2 and 4 share: sliding windows and gradient checks.

``coverage`` counts the windows each input pixel lies in, which
tells a grader where overlapping windows must add up their gradients; and
``expect_gradient`` compares a learner's gradient with centred differences
(``minialex.gradcheck``, float64).
"""
import numpy as np

from minialex.functional import im2col
from minialex.gradcheck import numerical_gradient, rel_error

from . import ExerciseFailed

GRADIENT_TOLERANCE = 1e-6  # float64 centred differences agree with a right gradient to ~1e-9


def coverage(x_shape, kh, kw, stride=1, padding=0):
    """(N, C, H, W) int array: in how many windows each input pixel lies."""
    n, c, h, w = x_shape
    ids = np.arange(n * c * h * w, dtype=np.float64).reshape(x_shape)
    marked = im2col(ids + 1, kh, kw, stride, padding)  # 0 marks the padding
    counts = np.bincount(marked.astype(np.int64).ravel(), minlength=ids.size + 1)[1:]
    return counts.reshape(x_shape)


def expect_array(got, shape, what):
    if not isinstance(got, np.ndarray) or got.shape != tuple(shape):
        raise ExerciseFailed(f"{what} should be an array of shape {tuple(shape)}, "
                             f"got {getattr(got, 'shape', type(got).__name__)}")


def expect_sums_where_windows_overlap(got, want, cover, what):
    """Raise the "= instead of +=" hint when ``got`` is right wherever a pixel lies in
    one window only and wrong where it lies in several."""
    close = np.isclose(got, want, rtol=1e-6, atol=1e-9)
    if close[cover == 1].all() and not close[cover > 1].all():
        raise ExerciseFailed(f"{what} is right where a pixel lies in one window and wrong where windows "
                             "overlap: such a pixel must receive the SUM of what every window sends it "
                             "(+=, not =)")


def expect_gradient(got, forward, x, dout, what, hint=None):
    """``got`` must equal the gradient of sum(forward() * dout) with respect to ``x``
    (x is perturbed in place), by centred differences in float64. ``hint(got, numeric)``
    may first raise a message that names the mistake."""
    expect_array(got, x.shape, what)
    numeric = numerical_gradient(forward, x, dout=dout)
    error = rel_error(got, numeric)
    if error > GRADIENT_TOLERANCE:
        if hint is not None:
            hint(got, numeric)
        worst = np.unravel_index(np.argmax(np.abs(got - numeric)), x.shape)
        raise ExerciseFailed(f"{what} disagrees with finite differences (relative error {error:.1e}); "
                             f"e.g. at index {tuple(int(i) for i in worst)} it is {got[worst]:.6g}, "
                             f"finite differences give {numeric[worst]:.6g}")
