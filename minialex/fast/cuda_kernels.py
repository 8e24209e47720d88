"""CUDA kernels for the layers where composed CuPy operations waste the GPU.

Every operation already runs on the GPU without this file: minialex.functional
is written with ``get_array_module``, so CuPy executes the same slicing and
arithmetic as NumPy. But each of those operations is its own
kernel launch that reads and writes a whole array: max-pooling's 3x3 window
is 9 passes over the input (and backward 4 more per offset), col2im is one
strided add per kernel offset (121 passes for AlexNet's 11x11 conv1), LRN is
about ten. Here each of those becomes one kernel in which a thread computes
one element of the result from the inputs it needs.

The rule every kernel follows: **one thread per element of the array it
writes**. So no two threads write the same place, and nothing needs atomic
adds (which would also make the sums' order, and so their rounding, change
from run to run). The two backward passes that naturally *scatter* (col2im,
max-pool backward: each window sends gradient to its inputs) are written as
*gathers* instead: each input pixel visits the windows that contain it.

The kernels are C++ templates, compiled once per process for float and double
on first use (CuPy keeps the binaries in its disk cache). At the end, the
operations they make, with the signatures of minialex.functional's, for
minialex.dispatch to choose; ``dispatch.set_path("reference")`` runs the
composed CuPy code instead, so the two can be compared and timed.
"""
import numpy as np

from ..backend import cupy
from ..functional.pooling import pool_output_shape

SOURCE = r"""
// A grid-stride loop: element i of n, for any launch size.
#define FOR_EACH(i, n) \
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)

// x (N, C, H, W) -> cols (groups, kh*kw*C/groups, N*OH*OW): rows ordered (i, j, c),
// columns (n, y, z), the layout of im2col.py. Padding reads as zero.
template <typename T>
__global__ void im2col(const T* x, T* cols, int N, int C, int H, int W, int kh, int kw,
                       int stride, int pad, int OH, int OW, int groups) {
    const int cg = C / groups;
    const long long ncols = (long long)N * OH * OW, rows = (long long)kh * kw * cg;
    FOR_EACH(idx, groups * rows * ncols) {
        const long long col = idx % ncols, row = (idx / ncols) % rows;
        const int g = idx / (ncols * rows);
        const int n = col / (OH * OW), y = (col / OW) % OH, z = col % OW;
        const int i = row / (kw * cg), j = (row / cg) % kw, c = row % cg;
        const int h = y * stride - pad + i, w = z * stride - pad + j;
        cols[idx] = (h >= 0 && h < H && w >= 0 && w < W)
                        ? x[(((long long)n * C + g * cg + c) * H + h) * W + w] : T(0);
    }
}

// The adjoint: dx (N, C, H, W) = sum of the column entries copied from each pixel.
// Pixel row h is row i of the window of output row y when y*stride - pad + i == h.
template <typename T>
__global__ void col2im(const T* cols, T* dx, int N, int C, int H, int W, int kh, int kw,
                       int stride, int pad, int OH, int OW, int groups) {
    const int cg = C / groups;
    const long long ncols = (long long)N * OH * OW, rows = (long long)kh * kw * cg;
    FOR_EACH(idx, (long long)N * C * H * W) {
        const int w = idx % W, h = (idx / W) % H, ch = (idx / ((long long)H * W)) % C;
        const long long n = idx / ((long long)C * H * W);
        const int g = ch / cg, c = ch % cg;
        T sum = 0;
        for (int i = 0; i < kh; ++i) {
            const int ys = h + pad - i;  // y * stride, if such an output row exists
            if (ys < 0 || ys % stride != 0 || ys / stride >= OH) continue;
            for (int j = 0; j < kw; ++j) {
                const int zs = w + pad - j;
                if (zs < 0 || zs % stride != 0 || zs / stride >= OW) continue;
                const long long row = ((long long)i * kw + j) * cg + c;
                sum += cols[(g * rows + row) * ncols + (n * OH + ys / stride) * OW + zs / stride];
            }
        }
        dx[idx] = sum;
    }
}

// out (N*C, OH, OW): the maximum of each k x k window, and in argmax the
// position h*W + w it came from. Windows are scanned in (i, j) order and
// only a larger value replaces the best, so ties go to the first maximum,
// as on the CPU. Positions outside the input (padding, ceil-mode overhang)
// are skipped, as the CPU's -inf padding never wins.
template <typename T>
__global__ void maxpool_forward(const T* x, T* out, int* argmax, int NC, int H, int W,
                                int k, int stride, int pad, int OH, int OW) {
    FOR_EACH(idx, (long long)NC * OH * OW) {
        const int z = idx % OW, y = (idx / OW) % OH;
        const T* plane = x + idx / (OH * OW) * H * W;
        T best = 0;
        int where = -1;
        for (int i = 0; i < k; ++i) {
            const int h = y * stride - pad + i;
            if (h < 0 || h >= H) continue;
            for (int j = 0; j < k; ++j) {
                const int w = z * stride - pad + j;
                if (w < 0 || w >= W) continue;
                if (where < 0 || plane[h * W + w] > best) {
                    best = plane[h * W + w];
                    where = h * W + w;
                }
            }
        }
        out[idx] = best;
        argmax[idx] = where;
    }
}

// dx (N*C, H, W): each pixel adds the gradient of every window whose maximum it was.
template <typename T>
__global__ void maxpool_backward(const T* dout, const int* argmax, T* dx, int NC, int H, int W,
                                 int k, int stride, int pad, int OH, int OW) {
    FOR_EACH(idx, (long long)NC * H * W) {
        const int w = idx % W, h = (idx / W) % H;
        const long long plane = idx / (H * W);
        T sum = 0;
        for (int i = 0; i < k; ++i) {
            const int ys = h + pad - i;
            if (ys < 0 || ys % stride != 0 || ys / stride >= OH) continue;
            for (int j = 0; j < k; ++j) {
                const int zs = w + pad - j;
                if (zs < 0 || zs % stride != 0 || zs / stride >= OW) continue;
                const long long o = (plane * OH + ys / stride) * OW + zs / stride;
                if (argmax[o] == h * W + w) sum += dout[o];
            }
        }
        dx[idx] = sum;
    }
}

// LRN's denominator d_c = k + alpha * sum of x_j^2 over the `size` channels
// centred on c (clipped at the edges). px points at channel 0 of one pixel;
// neighbouring channels are HW elements apart.
template <typename T>
__device__ T lrn_denominator(const T* px, int c, int C, long long HW, int size, T alpha, T k) {
    T s = 0;
    for (int j = max(0, c - size / 2); j <= min(C - 1, c + size / 2); ++j) s += px[j * HW] * px[j * HW];
    return k + alpha * s;
}

// out = x * d^-beta   (paper section 3.3)
template <typename T>
__global__ void lrn_forward(const T* x, T* out, int C, long long HW, long long total, int size,
                            T alpha, T beta, T k) {
    FOR_EACH(idx, total) {
        const int c = (idx / HW) % C;
        const T* px = x + (idx / (HW * C)) * C * HW + idx % HW;
        out[idx] = x[idx] * pow(lrn_denominator(px, c, C, HW, size, alpha, k), -beta);
    }
}

// dx_c = dout_c d_c^-beta - 2 alpha beta x_c * sum over the window of c of dout_i x_i d_i^(-beta-1)
// (the derivation is in lrn.py). Each thread recomputes the few denominators it needs
// from x, as the CPU path does, so forward keeps no extra array.
template <typename T>
__global__ void lrn_backward(const T* x, const T* dout, T* dx, int C, long long HW, long long total,
                             int size, T alpha, T beta, T k) {
    FOR_EACH(idx, total) {
        const int c = (idx / HW) % C;
        const long long base = (idx / (HW * C)) * C * HW + idx % HW;  // channel 0 of this pixel
        T sum = 0;
        for (int i = max(0, c - size / 2); i <= min(C - 1, c + size / 2); ++i) {
            const T d = lrn_denominator(x + base, i, C, HW, size, alpha, k);
            sum += dout[base + i * HW] * x[base + i * HW] * pow(d, -beta - 1);
        }
        const T d = lrn_denominator(x + base, c, C, HW, size, alpha, k);
        dx[idx] = dout[idx] * pow(d, -beta) - 2 * alpha * beta * x[idx] * sum;
    }
}

// Dropout's scaled mask: mask[i] = scale if u_i >= p else 0, for u_i uniform in [0, 1).
// u_i is a hash of (seed, i) (SplitMix64's mixing function), a counter-based generator:
// no state to keep, each thread computes its own number, and one seed drawn from the
// layer's NumPy generator fixes the whole mask (so a checkpoint fixes every later mask).
template <typename T>
__global__ void dropout_mask(T* mask, long long n, unsigned long long seed, T p, T scale) {
    FOR_EACH(i, n) {
        unsigned long long z = seed + (unsigned long long)(i + 1) * 0x9E3779B97F4A7C15ULL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        const double u = (double)(z >> 11) / 9007199254740992.0;  // the top 53 bits, / 2^53
        mask[i] = u >= (double)p ? scale : T(0);
    }
}
"""

KERNELS = ("im2col", "col2im", "maxpool_forward", "maxpool_backward", "lrn_forward", "lrn_backward", "dropout_mask")
C_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
THREADS_PER_BLOCK = 256
_module = None


def takes(x):
    """True for a CuPy array: the arrays these kernels run on."""
    return cupy is not None and isinstance(x, cupy.ndarray)


def _launch(name, n, dtype, *args):
    """Run kernel ``name`` for ``dtype`` with enough threads for n elements."""
    global _module
    if _module is None:
        _module = cupy.RawModule(code=SOURCE, options=("--std=c++14",),
                                 name_expressions=[f"{k}<{t}>" for k in KERNELS for t in C_TYPES.values()])
    kernel = _module.get_function(f"{name}<{C_TYPES[np.dtype(dtype)]}>")
    blocks = max(1, min(-(-n // THREADS_PER_BLOCK), 1 << 20))  # the grid-stride loop covers the rest
    kernel((blocks,), (THREADS_PER_BLOCK,), args)


def _ints(*values):
    return [np.int32(v) for v in values]


def im2col(x, kh, kw, stride, padding, oh, ow, groups, out):
    """As ``columns.im2col``, into ``out`` (groups, kh*kw*C/groups, N*OH*OW)."""
    x = cupy.ascontiguousarray(x)
    n, c, h, w = x.shape
    _launch("im2col", out.size, x.dtype, x, out, *_ints(n, c, h, w, kh, kw, stride, padding, oh, ow, groups))
    return out


def col2im(cols, x_shape, kh, kw, stride, padding, oh, ow, groups):
    """As ``columns.col2im``: cols -> dx (N, C, H, W)."""
    n, c, h, w = x_shape
    cols = cupy.ascontiguousarray(cols)
    dx = cupy.empty(x_shape, dtype=cols.dtype)
    _launch("col2im", dx.size, cols.dtype, cols, dx, *_ints(n, c, h, w, kh, kw, stride, padding, oh, ow, groups))
    return dx


def dropout_mask(like, shape, p, rng):
    """As ``functional.dropout_mask``, made on the GPU: ``rng`` draws one
    integer, the seed of the kernel. The masks differ from the CPU's, but are
    as reproducible, and no mask is copied from the CPU at every step."""
    mask = cupy.empty(shape, dtype=like.dtype)
    t = np.dtype(like.dtype).type
    seed = rng.integers(2**63)
    _launch("dropout_mask", mask.size, mask.dtype, mask, np.int64(mask.size), np.uint64(seed), t(p), t(1 / (1 - p)))
    return mask


# -- the operations, with minialex.functional's signatures ---------------------------------------


def maxpool2d_forward(x, kernel_size, stride, padding=0, ceil_mode=False):
    """One thread per window, which keeps its argmax for backward."""
    x = cupy.ascontiguousarray(x)
    n, c, h, w = x.shape
    _, _, oh, ow = pool_output_shape(x.shape, kernel_size, stride, padding, ceil_mode)
    out = cupy.empty((n, c, oh, ow), dtype=x.dtype)
    argmax = cupy.empty((n, c, oh, ow), dtype=np.int32)  # as h*W + w
    _launch("maxpool_forward", out.size, x.dtype, x, out, argmax,
            *_ints(n * c, h, w, kernel_size, stride, padding, oh, ow))
    return out, (x.shape, argmax, kernel_size, stride, padding)


def maxpool2d_backward(dout, cache):
    """Each input pixel gathers the gradient of the windows whose argmax it is."""
    x_shape, argmax, k, stride, padding = cache
    dout = cupy.ascontiguousarray(dout)
    n, c, h, w = x_shape
    dx = cupy.empty(x_shape, dtype=dout.dtype)
    _launch("maxpool_backward", dx.size, dout.dtype, dout, argmax, dx,
            *_ints(n * c, h, w, k, stride, padding, *dout.shape[2:]))
    return dx


def _lrn_args(x, size, alpha, beta, k):
    n, c, h, w = x.shape
    t = x.dtype.type
    return (np.int32(c), np.int64(h * w), np.int64(x.size), np.int32(size), t(alpha), t(beta), t(k))


def lrn_forward(x, size=5, alpha=1e-4, beta=0.75, k=2.0, groups=1):
    """One thread per element, the formula of functional.lrn_forward; a group is an image of its own."""
    n, c, h, w = x.shape
    a = cupy.ascontiguousarray(x).reshape(n * groups, c // groups, h, w)
    out = cupy.empty_like(a)
    _launch("lrn_forward", a.size, a.dtype, a, out, *_lrn_args(a, size, alpha, beta, k))
    return out.reshape(x.shape), (a, size, alpha, beta, k)


def lrn_backward(dout, cache):
    a, size, alpha, beta, k = cache
    g = cupy.ascontiguousarray(dout).reshape(a.shape)
    dx = cupy.empty_like(a)
    _launch("lrn_backward", a.size, a.dtype, a, g, dx, *_lrn_args(a, size, alpha, beta, k))
    return dx.reshape(dout.shape)
