"""Reference solutions for lesson 12."""


def my_fc_half(x_mine, W, b, comm):
    x = comm.allgather(x_mine, axis=1)                  # (N, n): both halves of the inputs, process 0's first
    half = W.shape[0] // comm.size
    rows = slice(comm.rank * half, (comm.rank + 1) * half)  # this process's neurons
    return x @ W[rows].T + b[rows]
