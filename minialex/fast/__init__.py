"""Fast paths: the operations of minialex.functional, computed faster.

chunks.py (threads over batch chunks), columns.py and conv.py (the CPU's
convolutions), linear.py (the CPU's fully connected layer), pooling.py and
lrn.py (the CPU's pooling and normalisation), cuda_kernels.py
(the GPU's). Each has the signature of the reference it replaces and is
tested against it; minialex.dispatch chooses which runs.
"""
