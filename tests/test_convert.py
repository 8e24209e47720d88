"""The real AlexNet's weights (minialex.convert), without the real files: a caffemodel written here with
the field layout of BVLC's, checked against a NumPy transcription of what Caffe computes; a state dict
saved by torch.save from torchvision's architecture (with PyTorch; skipped without it), checked
against PyTorch's own outputs; and files that must be refused."""
import io
import os
import pickle
import tarfile
import urllib.error
import urllib.request
import zipfile

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import minialex
from minialex.convert import caffe, torchvision
from minialex.convert.__main__ import main
from minialex.data.batches import model_input

# -- protobuf, written by hand as Caffe wrote it --------------------------------------------------


def varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, value):
    """A protobuf field: an int as a varint (wire type 0), bytes or str length-delimited (2)."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    value = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(value)) + value


def blob_v1(array):
    """The pieces of a BlobProto with the legacy num/channels/height/width (1-padded on the left), data
    packed: a list of bytes-like objects, so that big blobs are written without being copied."""
    dims = (1,) * (4 - array.ndim) + array.shape
    data = np.ascontiguousarray(array, "<f4").data.cast("B")
    return [b"".join(field(n, d) for n, d in zip((1, 2, 3, 4), dims)), varint(5 << 3 | 2), varint(len(data)), data]


def message(number, pieces):
    """The pieces of a length-delimited field holding ``pieces``."""
    return [varint(number << 3 | 2), varint(sum(len(p) for p in pieces))] + pieces


def blob_shaped(array):
    """A BlobProto with a BlobShape (dims packed), data packed."""
    return field(7, field(1, b"".join(varint(d) for d in array.shape))) + field(5, array.astype("<f4").tobytes())


def write_net_v1(path, blobs):
    """A NetParameter with V1 ``layers`` (field 2): name 4, type 5 (an enum), bottom 2, blobs 6; the layers
    without weights are there too, as in BVLC's file."""
    pieces = [field(1, "AlexNet")] + message(2, [field(4, "data") + field(5, 5)])
    for name in caffe.LAYERS:
        layer = [field(4, name) + field(5, 4) + field(2, "data")]
        for blob in blobs[name]:
            layer += message(6, blob_v1(blob))
        pieces += message(2, layer) + message(2, [field(4, "relu" + name[-1]) + field(5, 18)])
    with open(path, "wb") as f:
        for piece in pieces:
            f.write(piece)


def caffe_blobs(rng, num_classes=1000):
    """Random weights of BVLC AlexNet's shapes, in Caffe's layout (conv1 on BGR input): a pool of a prime
    number of random values laid out over each shape, which is much quicker than 61 million draws."""
    pool = rng.standard_normal(1_000_003, dtype=np.float32)
    shapes = caffe.bvlc_alexnet_shapes(num_classes)
    return {name: [np.resize(pool[i:], shapes[f"{name}.W"]) * np.float32(0.01),
                   np.resize(pool[-i - 1::-1], shapes[f"{name}.b"]) * np.float32(0.1)]
            for i, name in enumerate(caffe.LAYERS)}


# -- what Caffe computes, transcribed into NumPy ---------------------------------------------------


def conv(x, w, b, stride=1, pad=0, groups=1):
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(x, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    cg, fg = w.shape[1], w.shape[0] // groups
    out = np.concatenate([np.einsum("ncyxij,fcij->nfyx", windows[:, g * cg:(g + 1) * cg],
                                    w[g * fg:(g + 1) * fg], optimize=True) for g in range(groups)], axis=1)
    return out + b[None, :, None, None]


def caffe_lrn(x, local_size=5, alpha=1e-4, beta=0.75, k=1.0):
    """Caffe's LRNLayer (ACROSS_CHANNELS): scale = k + alpha / local_size * (sum of squares in the window)."""
    half = local_size // 2
    squares = np.pad(x ** 2, ((0, 0), (half, half), (0, 0), (0, 0)))
    window = sum(squares[:, i:i + x.shape[1]] for i in range(local_size))
    return x / (k + alpha / local_size * window) ** beta


def caffe_max_pool(x, kernel=3, stride=2):
    """Caffe's pooling: output size rounded up, windows cut at the edge."""
    h = x.shape[2]
    out = -(-(h - kernel) // stride) + 1
    padded = np.pad(x, ((0, 0), (0, 0), (0, kernel), (0, kernel)), constant_values=-np.inf)
    return sliding_window_view(padded, (kernel, kernel), axis=(2, 3))[:, :, :out * stride:stride,
                                                                       :out * stride:stride].max(axis=(4, 5))


def caffe_alexnet(blobs, x):
    """BVLC's deploy.prototxt, forward, on x (N, 3, 227, 227) in BGR minus the mean."""
    relu = lambda v: np.maximum(v, 0)
    p = {name: (w.reshape(caffe.bvlc_alexnet_shapes()[f"{name}.W"][:1] + (-1,)) if name.startswith("fc") else w, b)
         for name, (w, b) in blobs.items()}
    x = caffe_max_pool(caffe_lrn(relu(conv(x, *p["conv1"], stride=4))))
    x = caffe_max_pool(caffe_lrn(relu(conv(x, *p["conv2"], pad=2, groups=2))))
    x = relu(conv(x, *p["conv3"], pad=1))
    x = relu(conv(x, *p["conv4"], pad=1, groups=2))
    x = caffe_max_pool(relu(conv(x, *p["conv5"], pad=1, groups=2))).reshape(len(x), -1)
    x = relu(x @ p["fc6"][0].T + p["fc6"][1])
    x = relu(x @ p["fc7"][0].T + p["fc7"][1])
    return x @ p["fc8"][0].T + p["fc8"][1]


def write_aux(path, mean_bgr):
    """A caffe_ilsvrc12.tar.gz with the two files the converter reads."""
    words = "".join(f"n{i:08d} class number {i}, its other name\n" for i in range(1000)).encode()
    with tarfile.open(path, "w:gz") as tar:
        mean = b"".join(blob_v1(mean_bgr[None]))
        for name, data in (("synset_words.txt", words), ("imagenet_mean.binaryproto", mean)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_a_caffemodel_gives_what_caffe_computes(tmp_path, capsys):
    rng = np.random.default_rng(0)
    blobs = caffe_blobs(rng)
    write_net_v1(tmp_path / "bvlc_alexnet.caffemodel", blobs)
    mean_bgr = rng.uniform(90, 130, (3, 256, 256)).astype(np.float32)
    write_aux(tmp_path / "caffe_ilsvrc12.tar.gz", mean_bgr)
    out = tmp_path / "bvlc_alexnet.npz"
    assert main(["caffe", str(tmp_path / "bvlc_alexnet.caffemodel"), str(out)]) == 0  # the archive beside it
    saved = minialex.load(out)
    assert saved.crop == 227 and saved.classes[3] == "class number 3, its other name"

    images = rng.integers(0, 256, (1, 3, 256, 256), dtype=np.uint8)  # RGB, as minialex reads photos
    logits = saved.model.eval().forward(model_input(images, saved.mean, saved.crop))
    bgr = images[:, ::-1].astype(np.float32) - mean_bgr  # Caffe's input: BGR, minus its mean, centre 227
    expected = caffe_alexnet(blobs, bgr[:, :, 14:241, 14:241])
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_the_newer_layer_layout_and_blob_shapes_are_read():
    w, b = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2), np.array([0.5, -1], np.float32)
    net = field(100, field(1, "conv1") + field(2, "Convolution") + field(7, blob_shaped(w)) + field(7, blob_shaped(b)))
    (got_w, got_b), = caffe.read_blobs(net).values()
    assert np.array_equal(got_w, w) and np.array_equal(got_b, b)


@pytest.mark.parametrize("data, message", [
    (b"".join(message(2, [field(4, "conv1")] + message(6, blob_v1(np.zeros(10, np.float32)))))[:-5],
     "claims 5. bytes, 5. are left"),
    (b"".join(message(2, [field(4, "conv1")] + message(6, blob_v1(np.zeros((96, 3, 11, 11), np.float32))))),
     "no layer conv2"),
    (field(2, field(4, "x") + field(6, field(1, 5) + field(5, b"\0" * 8))), "does not hold its 2 values"),
    (b"\x0b" + b"\0" * 10, "wire type 3"),
], ids=["truncated", "not AlexNet", "shape and data differ", "a group field"])
def test_a_damaged_or_foreign_caffemodel_is_refused_naming_it(tmp_path, data, message):
    path = tmp_path / "model.caffemodel"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message) as err:
        caffe.convert(path)
    assert str(path) in str(err.value)


def test_without_the_file_and_offline_the_message_says_what_to_do(tmp_path, capsys, monkeypatch):
    assert main(["caffe", str(tmp_path / "bvlc_alexnet.caffemodel"), str(tmp_path / "out.npz")]) == 1
    assert "--download" in capsys.readouterr().err

    def offline(url, timeout):
        raise urllib.error.URLError("Name or service not known")  # what urlopen raises with no network

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    assert main(["torchvision", str(tmp_path / "alexnet.pth"), str(tmp_path / "out.npz"), "--download"]) == 1
    err = capsys.readouterr().err
    assert torchvision.URL in err and str(tmp_path / "alexnet.pth") in err and err.count("\n") == 1
    assert not (tmp_path / "alexnet.pth").exists()


# -- torchvision ----------------------------------------------------------------------------------


def zip_with_pickle(path, payload):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/byteorder", "little")


class Evil:
    def __reduce__(self):
        return os.system, ("echo this must never run",)


def test_a_pickle_that_names_anything_else_is_refused_unloaded(tmp_path):
    path = tmp_path / "evil.pth"
    zip_with_pickle(path, pickle.dumps({"features.0.weight": Evil()}, protocol=2))
    with pytest.raises(ValueError, match=r"names (posix|nt|os)\.system") as err:
        torchvision.read_state_dict(path)
    assert str(path) in str(err.value)
    (tmp_path / "plain.pth").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable torch.save state dict"):
        torchvision.read_state_dict(tmp_path / "plain.pth")


def torch_alexnet(torch, num_classes=1000):
    """torchvision.models.AlexNet's layers, written with torch.nn (torchvision is not installed)."""
    nn = torch.nn

    class AlexNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
                nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
                nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))
            self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
            self.classifier = nn.Sequential(
                nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
                nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Linear(4096, num_classes))

        def forward(self, x):
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    return AlexNet()


def test_a_torch_saved_alexnet_gives_pytorchs_outputs(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch_alexnet(torch).eval()
    torch.save(net.state_dict(), tmp_path / "alexnet.pth")
    assert main(["torchvision", str(tmp_path / "alexnet.pth"), str(tmp_path / "tv.npz")]) == 0
    saved = minialex.load(tmp_path / "tv.npz")
    assert saved.crop == 224 and saved.classes is None

    images = np.random.default_rng(1).integers(0, 256, (2, 3, 256, 256), dtype=np.uint8)
    ours = saved.model.eval().forward(model_input(images, saved.mean, saved.crop))
    crop = images[:, :, 16:240, 16:240].astype(np.float32) / 255  # torchvision: CenterCrop(224), Normalize
    x = (crop - np.float32(torchvision.MEAN)[:, None, None]) / np.float32(torchvision.STD)[:, None, None]
    with torch.no_grad():
        theirs = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * np.abs(theirs).max())
