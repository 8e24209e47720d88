"""Where a run stands inside an epoch, as a named structure: what a checkpoint saved in the middle of
an epoch holds, so that the resumed run finishes the epoch as an uninterrupted run would."""
import dataclasses

import numpy as np


@dataclasses.dataclass
class EpochProgress:
    """How far the current epoch has come: all that a checkpoint saved in the middle of an epoch needs to
    finish it as an uninterrupted run would. The sums run over the epoch's images so far; the window's
    over those since the last recorded point (the running training error)."""
    batch: int                 # batches done
    rng_state: dict            # the state of the augmentation's generator after them
    loss_sum: float = 0.0      # each batch's mean loss times its number of images, summed
    error_sum: float = 0.0     # misclassified images
    seen: int = 0              # images
    window_loss: float = 0.0
    window_errors: float = 0.0
    window_seen: int = 0
    points: int = 0            # points recorded in this epoch

    @classmethod
    def start(cls, seed, epoch):
        """No batch done yet; the augmentation of this epoch draws from a generator seeded by (seed, epoch)."""
        return cls(0, np.random.default_rng([seed, epoch, 1]).bit_generator.state)

    @classmethod
    def from_state(cls, saved):
        """From its dict in a checkpoint, or from the dict of lists that checkpoints held before this class
        ({"batch", "rng", "sums": [loss, errors, images], "window": [the same], "points"})."""
        if "sums" not in saved:
            return cls(**saved)
        (loss, errors, seen), (window_loss, window_errors, window_seen) = saved["sums"], saved["window"]
        return cls(saved["batch"], saved["rng"], loss, errors, seen, window_loss, window_errors, window_seen,
                   saved["points"])

    def add(self, loss, errors, images):
        """Count a batch of ``images`` images with mean loss ``loss`` and ``errors`` misclassified."""
        self.loss_sum += loss * images
        self.error_sum += errors
        self.seen += images
        self.window_loss += loss * images
        self.window_errors += errors
        self.window_seen += images

    def close_window(self):
        """(mean loss, error rate) of the window, which starts again empty: a recorded point."""
        point = self.window_loss / self.window_seen, self.window_errors / self.window_seen
        self.window_loss, self.window_errors, self.window_seen = 0.0, 0.0, 0
        self.points += 1
        return point
