"""ArrayDataset: a whole labelled image set held in memory as one uint8 array.

Every loader in ``minialex.data`` returns this one type, so the training code never
needs to know where the images came from. Images stay uint8 (1 byte per value) and
in NCHW order on the CPU; they become floats only a mini-batch at a time (see
``batches.to_float``), which keeps 50,000 CIFAR-10 images at 150 MB instead of 600 MB.
"""
import numpy as np


class ArrayDataset:
    """Images, labels and class names of one split (e.g. the training set).

    Attributes:
        images:  uint8 ndarray (N, C, H, W)
        labels:  int64 ndarray (N,), each in range(len(classes))
        classes: list[str], classes[k] is the name of label k
        name:    str, e.g. "cifar10-train"
    """

    def __init__(self, images, labels, classes, name):
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
            raise ValueError(
                f"images must be a uint8 ndarray of shape (N, C, H, W), got "
                f"{type(images).__name__} {getattr(images, 'dtype', '')} {getattr(images, 'shape', '')}; "
                "convert HWC images with np.ascontiguousarray(x.transpose(0, 3, 1, 2)) and keep 0..255 uint8")
        labels = np.asarray(labels)
        if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"labels must be integers of shape ({len(images)},) to match the images, "
                f"got {labels.dtype} {labels.shape}")
        classes = [str(c) for c in classes]
        if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
            raise ValueError(
                f"labels must lie in 0..{len(classes) - 1} (one per class name), "
                f"got values from {labels.min()} to {labels.max()}")
        self.images = images
        self.labels = labels.astype(np.int64, copy=False)
        self.classes = classes
        self.name = str(name)

    def __len__(self):
        return len(self.images)

    def __repr__(self):
        c, h, w = self.images.shape[1:]
        return f"ArrayDataset({self.name!r}, {len(self)} images {c}x{h}x{w}, {len(self.classes)} classes)"

    def subset(self, n, seed=0):
        """A stratified subset of n images: as equal a number per class as the data allows.

        Deterministic for a given seed; images keep their original order.
        """
        keep = stratified_indices(self.labels, len(self.classes), n, seed)
        return self._take(keep, self.name)

    def split(self, fraction, seed=0):
        """(rest, held_out): hold out a stratified `fraction` of the images, e.g. as a test set."""
        if not 0 < fraction < 1:
            raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
        held = stratified_indices(self.labels, len(self.classes), round(fraction * len(self)), seed)
        rest = np.setdiff1d(np.arange(len(self)), held)
        return self._take(rest, self.name), self._take(held, self.name + "-heldout")

    def _take(self, indices, name):
        return ArrayDataset(self.images[indices], self.labels[indices], self.classes, name)


def stratified_indices(labels, num_classes, n, seed):
    """Sorted indices of n items, dealt round-robin from each class's shuffled list.

    Dealing one image per class per round gives every class n // num_classes images
    (the first classes one more when n does not divide evenly), and a class that
    runs out simply stops being dealt to, so the others make up the difference.
    """
    if not 0 <= n <= len(labels):
        raise ValueError(f"cannot take {n} images from a dataset of {len(labels)}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    # rank = how many images of the same class come before this one in the shuffle
    rank = np.empty(len(labels), np.int64)
    for k in range(num_classes):
        members = order[labels[order] == k]
        rank[members] = np.arange(len(members))
    dealt = np.lexsort((labels, rank))  # by round first, then class within a round
    return np.sort(dealt[:n])
