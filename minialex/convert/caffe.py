"""BVLC's Caffe reference AlexNet (``bvlc_alexnet.caffemodel``) as a minialex network.

BVLC trained the paper's exact architecture (96 conv1 kernels, groups of 2 in
conv2, conv4 and conv5, local response normalisation) on ILSVRC-2012 with
Caffe: 57.1 % top-1 and 80.2 % top-5 accuracy with the centre crop, as its
model page states. ``convert`` reads its weights into ``bvlc_alexnet()``, and
the network then computes what Caffe computes, with these conversions:

* **Colour order.** Caffe fed its images in OpenCV's BGR order; minialex reads
  RGB. conv1's kernels are reversed along their input channels, so the same
  photo gives the same numbers.
* **Mean.** Caffe subtracts the training set's mean image (BGR, 256x256, in
  ``imagenet_mean.binaryproto`` of ``caffe_ilsvrc12.tar.gz``); it is read from
  there when given, turned to RGB, else that image's per-channel means fill it
  (R 122.67, G 116.66, B 104.00, as BVLC's Caffe defines them in
  ``include/caffe/imagenet_mean.hpp``: the mean image's mean pixel).
  Pixels stay in 0..255, as in Caffe and the paper.
* **Crop.** 227x227, the centre of a 256x256 image.
* **Local response normalisation.** Caffe's ``alpha`` multiplies the *mean* of
  the squares in the window, the paper's (and minialex's) their *sum*, and
  Caffe's ``k`` is 1 where the paper's is 2: BVLC's ``alpha: 0.0001``,
  ``local_size: 5`` is minialex's ``LocalResponseNorm(5, 0.0001 / 5, 0.75, 1.0)``.
  Caffe normalises over all 96 (256) maps: one GPU, so ``groups=1``.
* Caffe's pooling rounds up and minialex's down; for AlexNet's sizes (55, 27
  and 13 pixels, 3x3 windows, stride 2) both give 27, 13 and 6.

Reading a caffemodel is reading protobuf. Rather than depend on the protobuf
package and Caffe's schema, ``read_blobs`` reads the few fields it needs by
hand: the layers' names and their blobs' shapes and float data. Nothing in
the file is executed, and every length is checked against the bytes that are
left before anything is read or allocated.

    python -m minialex.convert caffe bvlc_alexnet.caffemodel bvlc_alexnet.npz --download
"""
import numpy as np

from ..layers import LocalResponseNorm
from ..models import alexnet
from .files import read_limited

URL = "http://dl.caffe.berkeleyvision.org/bvlc_alexnet.caffemodel"
SHA1 = "9116a64c0fbe4459d18f4bb6b56d647b63920377"  # models/bvlc_alexnet/readme.md in BVLC/caffe
# The mean image and the class names (synset_words.txt): data/ilsvrc12/get_ilsvrc_aux.sh of BVLC/caffe.
# BVLC publish no checksum for this archive: it is checked by its content (the two files, their sizes).
AUX_URL = "http://dl.caffe.berkeleyvision.org/caffe_ilsvrc12.tar.gz"
MEAN_RGB = (122.67, 116.66, 104.00)  # the mean image's per-channel means (include/caffe/imagenet_mean.hpp), R, G, B
CROP = 227
LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")

# Protobuf field numbers (src/caffe/proto/caffe.proto).
NET_LAYER, NET_LAYERS_V1 = 100, 2          # NetParameter: layer (LayerParameter), layers (V1LayerParameter)
LAYER_NAME, LAYER_BLOBS = 1, 7             # LayerParameter
V1_NAME, V1_BLOBS = 4, 6                   # V1LayerParameter
BLOB_LEGACY_DIMS, BLOB_DATA, BLOB_SHAPE = (1, 2, 3, 4), 5, 7   # BlobProto: num, channels, height, width
SHAPE_DIM = 1                              # BlobShape


def bvlc_alexnet(num_classes=1000):
    """``alexnet()`` as BVLC's Caffe defines it: the paper's network with Caffe's normalisation
    (``LocalResponseNorm(5, 1e-4 / 5, 0.75, 1.0)`` over all maps; see the module's docstring)."""
    model = alexnet(num_classes, lrn_groups=1)
    for name in ("norm1", "norm2"):
        model.layers[model.names.index(name)] = LocalResponseNorm(5, 1e-4 / 5, 0.75, 1.0)
    return model


# -- protobuf, by hand ---------------------------------------------------------------


def _varint(data, pos):
    """(value, next position) of the base-128 varint at ``pos``."""
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("a varint runs past the end of the data")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if byte < 0x80:
            return value, pos


def fields(data):
    """(field number, wire type, value) of each field of one protobuf message ``data`` (a memoryview):
    varints as ints, length-delimited fields as memoryviews of ``data`` (no copy), fixed-size ones as
    bytes. Groups (wire types 3 and 4), which caffe.proto never uses, are refused."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            if length > len(data) - pos:
                raise ValueError(f"field {number} claims {length} bytes, {len(data) - pos} are left")
            value, pos = data[pos:pos + length], pos + length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if size > len(data) - pos:
                raise ValueError(f"field {number} runs past the end of the data")
            value, pos = bytes(data[pos:pos + size]), pos + size
        else:
            raise ValueError(f"field {number} has wire type {wire}, which a caffemodel does not use")
        yield number, wire, value


def _blob(data):
    """A BlobProto as a float32 array: its shape (BlobShape, else the legacy num/channels/height/width)
    and its packed float data."""
    shape, legacy, values = None, {}, None
    for number, wire, value in fields(data):
        if number == BLOB_SHAPE and wire == 2:
            dims = []
            for dim_number, dim_wire, dim in fields(value):
                if dim_number != SHAPE_DIM:
                    continue
                if dim_wire == 2:  # packed: varints one after another
                    pos = 0
                    while pos < len(dim):
                        d, pos = _varint(dim, pos)
                        dims.append(d)
                else:
                    dims.append(dim)
            shape = tuple(dims)
        elif number in BLOB_LEGACY_DIMS and wire == 0:
            legacy[number] = value
        elif number == BLOB_DATA:
            if wire != 2 or len(value) % 4:
                raise ValueError("a blob's data is not packed float32s (Caffe writes them packed)")
            values = np.frombuffer(value, dtype="<f4").astype(np.float32)
    if values is None:
        raise ValueError("a blob has no float data")
    shape = shape if shape is not None else tuple(legacy.get(n, 1) for n in BLOB_LEGACY_DIMS)
    if int(np.prod(shape, dtype=object)) != values.size:
        raise ValueError(f"a blob's shape {shape} does not hold its {values.size} values")
    return values.reshape(shape)


def read_blobs(data):
    """{layer name: [arrays]} of the layers that have blobs, from a serialised NetParameter ``data``
    (bytes). Reads both layouts Caffe wrote: ``layer`` (field 100) and the older ``layers`` (field 2)."""
    data = memoryview(data)
    layers = {}
    for number, wire, value in fields(data):
        if wire != 2 or number not in (NET_LAYER, NET_LAYERS_V1):
            continue
        name_field, blobs_field = (LAYER_NAME, LAYER_BLOBS) if number == NET_LAYER else (V1_NAME, V1_BLOBS)
        name, blobs = None, []
        for field, field_wire, content in fields(value):
            if field == name_field and field_wire == 2:
                name = bytes(content).decode("utf-8", errors="replace")
            elif field == blobs_field and field_wire == 2:
                blobs.append(_blob(content))
        if name is not None and blobs:
            layers[name] = blobs
    return layers


def read_mean(data):
    """The mean image of an ``imagenet_mean.binaryproto`` (one BlobProto, 1x3x256x256 BGR) as float32
    (3, 256, 256) RGB."""
    mean = _blob(memoryview(data))
    if mean.size != 3 * 256 * 256:
        raise ValueError(f"it holds {mean.shape}, not a 3x256x256 image")
    return mean.reshape(3, 256, 256)[::-1].copy()


# -- the conversion -------------------------------------------------------------------------


def state_dict(blobs, num_classes=1000):
    """minialex's state dict of ``bvlc_alexnet()`` from ``read_blobs``'s {layer: [weights, bias]}:
    each blob reshaped to minialex's shape (Caffe's legacy blobs are 4-D), conv1 from BGR to RGB."""
    expected = bvlc_alexnet_shapes(num_classes)
    missing = [name for name in LAYERS if name not in blobs]
    if missing:
        raise ValueError(f"it has no layer {', '.join(missing)} with weights: is it BVLC's AlexNet? "
                         f"(its layers with weights: {', '.join(blobs) or 'none'})")
    out = {}
    for name in LAYERS:
        if len(blobs[name]) != 2:
            raise ValueError(f"its layer {name} has {len(blobs[name])} blobs, not weights and bias")
        for blob, key in zip(blobs[name], ("W", "b")):
            shape = expected[f"{name}.{key}"]
            if blob.size != np.prod(shape):
                raise ValueError(f"its {name} {'weights' if key == 'W' else 'bias'} have {blob.shape}, "
                                 f"bvlc_alexnet() needs {shape}")
            out[f"{name}.{key}"] = blob.reshape(shape)
    out["conv1.W"] = np.ascontiguousarray(out["conv1.W"][:, ::-1])  # BGR -> RGB
    return out


def bvlc_alexnet_shapes(num_classes=1000):
    """{name: shape} of bvlc_alexnet()'s parameters, from the paper's layer table."""
    sizes = {"conv1": (96, 3, 11, 11), "conv2": (256, 48, 5, 5), "conv3": (384, 256, 3, 3),
             "conv4": (384, 192, 3, 3), "conv5": (256, 192, 3, 3), "fc6": (4096, 9216), "fc7": (4096, 4096),
             "fc8": (num_classes, 4096)}
    return {**{f"{n}.W": s for n, s in sizes.items()}, **{f"{n}.b": (s[0],) for n, s in sizes.items()}}


def convert(caffemodel, mean=None):
    """(model, mean image, crop, description) of the caffemodel file ``caffemodel``: ``bvlc_alexnet()``
    with its weights. ``mean``: the bytes of imagenet_mean.binaryproto (``files.read_aux``), else Caffe's
    per-channel means. The errors name the file."""
    try:
        blobs = read_blobs(read_limited(caffemodel, "caffemodel"))
        weights = state_dict(blobs, blobs["fc8"][-1].size if "fc8" in blobs else 1000)
    except ValueError as err:
        raise ValueError(f"{caffemodel} is not a usable caffemodel: {err}") from err
    model = bvlc_alexnet(len(weights["fc8.b"]))
    model.load_state_dict(weights)
    try:
        image = read_mean(mean) if mean is not None else \
            np.broadcast_to(np.float32(MEAN_RGB)[:, None, None], (3, 256, 256)).copy()
    except ValueError as err:
        raise ValueError(f"the mean image (imagenet_mean.binaryproto) is not usable: {err}") from err
    source = (f"BVLC's Caffe AlexNet ({URL}): conv1 turned from BGR to RGB, Caffe's mean "
              f"({'its mean image' if mean is not None else 'per channel, R 122.67 G 116.66 B 104.00'}), "
              "LRN alpha 1e-4 / 5 and k 1 in the paper's convention, 227 crops")
    return model, image, CROP, source
