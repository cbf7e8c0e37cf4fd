"""Per-face view selection: a labelling that favours good views and agrees across neighbours.

Energy (Waechter et al. 2014, "Let There Be Color!", with projected area as the data term)::

    E(labels) = sum_f (1 - q[f, l_f] / max_l q[f, l])  +  smoothness * #{neighbours f, g : l_f != l_g}

minimised by iterated conditional modes from the per-face best view. Faces no view sees get
the label -1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy import sparse


def face_adjacency(faces: np.ndarray) -> sparse.csr_matrix:
    """(F, F) symmetric 0/1 matrix of faces sharing an edge."""
    from scipy import sparse

    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges.sort(axis=1)
    owner = np.tile(np.arange(len(faces)), 3)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    edges, owner = edges[order], owner[order]
    same = np.all(edges[1:] == edges[:-1], axis=1)
    a, b = owner[:-1][same], owner[1:][same]
    data = np.ones(2 * len(a), dtype=np.float32)
    matrix = sparse.csr_matrix((data, (np.concatenate([a, b]), np.concatenate([b, a]))),
                               shape=(len(faces), len(faces)))
    matrix.data[:] = 1.0  # edges shared by more than two faces count once
    return matrix


def select_views(quality: np.ndarray, adjacency: sparse.csr_matrix, *, smoothness: float = 0.5,
                 iterations: int = 8, seed: int = 0) -> np.ndarray:
    """A view per face that trades quality against agreement with the neighbours.

    Args:
        quality: (F, V) non-negative quality of each face in each view (0 = not seen).
        adjacency: (F, F) face adjacency from :func:`face_adjacency`.
        smoothness: Cost of a neighbour with another label, relative to the data term's range.
        iterations: ICM sweeps; each updates a random half of the faces.
        seed: Seed choosing the faces updated in each sweep.

    Returns:
        (F,) int64 view index per face, -1 where no view sees the face.
    """
    best = quality.max(axis=1)
    seen = best > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        data = np.where(quality > 0, 1.0 - quality / best[:, None], np.inf).astype(np.float32)
    labels = np.where(seen, np.argmax(quality, axis=1), -1)
    if smoothness <= 0 or quality.shape[1] < 2:
        return labels
    from scipy import sparse

    rng = np.random.default_rng(seed)
    num_views = quality.shape[1]
    for _ in range(iterations):
        onehot = sparse.csr_matrix((np.ones(seen.sum(), np.float32), (np.flatnonzero(seen), labels[seen])),
                                   shape=(len(labels), num_views))
        agree = (adjacency @ onehot).toarray()  # (F, V) neighbours already labelled v
        cost = data - smoothness * agree
        proposal = np.where(seen, np.argmin(cost, axis=1), -1)
        if np.array_equal(proposal, labels):
            break
        update = rng.random(len(labels)) < 0.5  # half of the faces: simultaneous flips can oscillate
        labels = np.where(update, proposal, labels)
    return labels
