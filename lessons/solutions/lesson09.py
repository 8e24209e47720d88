"""Reference solutions for lesson 09."""
import numpy as np


def my_nearest_neighbours(query, reference, k):
    distances = np.sqrt(((query[:, None, :] - reference[None, :, :]) ** 2).sum(axis=2))  # (Q, M)
    return np.argsort(distances, axis=1)[:, :k]
