"""Trainer.evaluate against a hand computation: single centre crop and the paper's ten patches."""
import numpy as np

from minialex.data import ArrayDataset, center_crop, ten_crop
from minialex.config import TrainConfig
from minialex.trainer import Trainer


def toy_trainer(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(40, 3, 16, 16)).astype(np.uint8)
    labels = np.arange(40) % 4
    data = (ArrayDataset(images[:30], labels[:30], list("abcd"), "toy-train"),
            ArrayDataset(images[30:], labels[30:], list("abcd"), "toy-val"))
    config = TrainConfig(dataset="toy", crop=12, dropout=0.5)
    trainer = Trainer(config, tmp_path / "run", data=data, progress=False, log=lambda s: None)
    # Weights far from the initial ones (which answer nearly uniformly), so the ten views disagree.
    for _, owner, key in trainer.model.parameter_slots():
        owner.params[key] = rng.standard_normal(owner.params[key].shape).astype(np.float32) * 0.05
    return trainer


def by_hand(trainer, views):
    """Mean softmax over the views, then the loss and the top-1/top-5 errors, one image at a time."""
    test = trainer.test_set
    x = test.images.astype(np.float32) - trainer.mean
    trainer.model.eval()
    probs = []
    for view in views(x):
        logits = trainer.model.forward(np.ascontiguousarray(view)).astype(np.float64)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs.append(e / e.sum(axis=1, keepdims=True))
    trainer.model.train()
    p = np.mean(probs, axis=0)
    loss = np.mean([-np.log(p[i, y]) for i, y in enumerate(test.labels)])
    ranked = np.argsort(-p, axis=1)
    top1 = np.mean(ranked[:, 0] != test.labels)
    top5 = np.mean([y not in ranked[i, :5] for i, y in enumerate(test.labels)])
    return loss, top1, top5


def test_ten_crop_is_the_mean_of_ten_softmaxes(tmp_path):
    trainer = toy_trainer(tmp_path)
    ten = trainer.evaluate(ten_crops=True)
    loss, top1, top5 = by_hand(trainer, lambda x: ten_crop(x, 12))
    assert np.isclose(ten["loss"], loss, rtol=1e-5) and ten["top1_error"] == top1 and ten["top5_error"] == top5
    single = trainer.evaluate()
    loss1, top1_1, _ = by_hand(trainer, lambda x: [center_crop(x, 12)])
    assert np.isclose(single["loss"], loss1, rtol=1e-5) and single["top1_error"] == top1_1
    assert not np.isclose(ten["loss"], single["loss"]), "ten views are not the centre view alone"
