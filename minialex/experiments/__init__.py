"""The paper's experiments, one command each: ``figure1`` (ReLU against tanh) and
``ablations`` (LRN, overlapping pooling, dropout, PCA lighting)."""
