"""Checks for lesson 09, what the network learned: nearest neighbours in feature space."""
import numpy as np

from minialex.visualize import nearest_neighbours

from . import ExerciseFailed


def check_nearest_neighbours(my_nearest_neighbours):
    """my_nearest_neighbours(query (Q, D), reference (M, D), k) -> int array (Q, k): for each
    query row, the indices of the k reference rows nearest in Euclidean distance, nearest first."""
    rng = np.random.default_rng(9)
    for q, m, d, k in [(3, 50, 4, 6), (5, 200, 16, 1), (2, 30, 64, 30)]:
        reference = rng.standard_normal((m, d)) * rng.uniform(0.5, 3, size=(m, 1))  # rows of varied length
        query = rng.standard_normal((q, d))
        query[0] = reference[m // 2]  # a query that is in the reference set: its own nearest neighbour
        want, _ = nearest_neighbours(query, reference, k)
        got = np.asarray(my_nearest_neighbours(query.copy(), reference.copy(), k))
        if got.shape != (q, k):
            raise ExerciseFailed(f"expected an array of shape (Q, k) = {(q, k)}, got {got.shape}")
        if np.array_equal(got, want):
            continue
        if np.array_equal(got, np.argsort(-np.linalg.norm(query[:, None] - reference[None], axis=2), axis=1)[:, :k]):
            raise ExerciseFailed("those are the FARTHEST rows: sort by increasing distance")
        if np.array_equal(got, np.argsort(-(query @ reference.T), axis=1)[:, :k]):
            raise ExerciseFailed("that ranks by dot product, not by Euclidean distance: "
                                 "||q - r||^2 = ||q||^2 + ||r||^2 - 2 q.r, and ||r||^2 differs from row to row")
        if got[0, 0] != m // 2:
            raise ExerciseFailed(f"query 0 is reference row {m // 2} itself (distance 0), "
                                 f"so it should come first; got {got[0, 0]}")
        raise ExerciseFailed(f"Q={q}, M={m}, D={d}, k={k}: expected\n{want}\ngot\n{got}")
