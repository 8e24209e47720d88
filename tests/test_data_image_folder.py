"""load_image_folder: paper-style resize and centre crop, caching, and bad folders."""
import os

import numpy as np
import pytest
from PIL import Image

from minialex.data import decode_image, load_image_folder


def save(path, width, height, color=(0, 128, 255)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), color).save(path)


@pytest.fixture
def tree(tmp_path):
    """root/{cats,ants}/ with images of odd sizes and formats, and one file that is not an image."""
    root = tmp_path / "photos"
    save(root / "cats" / "a.jpg", 37, 51)
    save(root / "cats" / "b.PNG", 64, 20)
    save(root / "cats" / "c.jpeg", 20, 20)
    save(root / "ants" / "z.png", 90, 45)
    Image.new("L", (40, 30), 200).save(root / "ants" / "gray.png")  # converted to RGB
    (root / "ants" / "notes.txt").write_text("not an image")
    return root


def marked_image(width, height):
    """Black, a white 100x100 square in the centre, red strips 40 wide at both ends of the long side."""
    pixels = np.zeros((height, width, 3), np.uint8)
    cy, cx = height // 2, width // 2
    pixels[cy - 50:cy + 50, cx - 50:cx + 50] = 255
    if width > height:
        pixels[:, :40, 0] = pixels[:, -40:, 0] = 255
    else:
        pixels[:40, :, 0] = pixels[-40:, :, 0] = 255
    return Image.fromarray(pixels)


@pytest.mark.parametrize("width, height", [(400, 300), (300, 400)])
def test_shorter_side_is_resized_then_the_centre_is_cropped(tmp_path, width, height):
    path = tmp_path / "marked.png"
    marked_image(width, height).save(path)
    out = decode_image(path, 30)  # scale 0.1: 40x30 (or 30x40), then the middle 30x30
    assert out.shape == (3, 30, 30) and out.dtype == np.uint8
    assert np.all(out[:, 12:18, 12:18] == 255), "the white square lands in the middle, 10 pixels wide"
    assert np.all(out[:, :8, :8] == 0) and np.all(out[:, -8:, -8:] == 0)
    assert np.array_equal(out[0], out[1]), "no red left: the red strips were cropped away"
    assert np.array_equal(out, out[:, ::-1, ::-1]), "the crop is exactly centred"


def test_loads_sorted_classes_shapes_and_labels(tree, tmp_path):
    ds = load_image_folder(tree, size=16, cache_dir=tmp_path / "cache")
    assert ds.classes == ["ants", "cats"] and ds.name == "photos"
    assert ds.images.shape == (5, 3, 16, 16) and ds.images.dtype == np.uint8
    assert ds.labels.tolist() == [0, 0, 1, 1, 1]
    assert np.all(ds.images[0] == 200), "gray.png sorts before z.png and becomes RGB"


def test_second_load_reads_the_cache(tree, tmp_path, monkeypatch):
    first = load_image_folder(tree, size=16, cache_dir=tmp_path / "cache")

    def refuse(*args, **kwargs):
        raise AssertionError("decoded again instead of using the cache")

    monkeypatch.setattr(Image, "open", refuse)
    second = load_image_folder(tree, size=16, cache_dir=tmp_path / "cache")
    assert np.array_equal(first.images, second.images) and np.array_equal(first.labels, second.labels)


def test_a_changed_file_or_size_means_decoding_again(tree, tmp_path, monkeypatch):
    load_image_folder(tree, size=16, cache_dir=tmp_path / "cache")
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    load_image_folder(tree, size=8, cache_dir=tmp_path / "cache")
    assert len(opened) == 5
    save(tree / "cats" / "a.jpg", 37, 51, color=(255, 0, 0))
    os.utime(tree / "cats" / "a.jpg", ns=(1, 1))
    assert load_image_folder(tree, size=8, cache_dir=tmp_path / "cache").images[2, 0].mean() > 200
    assert len(opened) == 10


def test_damaged_cache_is_rebuilt(tree, tmp_path):
    cache = tmp_path / "cache"
    first = load_image_folder(tree, size=16, cache_dir=cache)
    [cache_file] = cache.iterdir()
    cache_file.write_bytes(b"garbage")
    assert np.array_equal(load_image_folder(tree, size=16, cache_dir=cache).images, first.images)


@pytest.mark.parametrize("content", [b"definitely not a jpeg", "truncated"])
def test_unreadable_image_is_named(tree, tmp_path, content):
    bad = tree / "cats" / "broken.jpg"
    if content == "truncated":
        save(bad, 64, 64)
        content = bad.read_bytes()[:300]
    bad.write_bytes(content)
    with pytest.raises(ValueError, match="cannot decode image .*broken.jpg"):
        load_image_folder(tree, size=16, cache_dir=tmp_path / "cache")


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist: expected .*CLASS_NAME/IMAGE.jpg"):
        load_image_folder(tmp_path / "nope", cache_dir=tmp_path / "cache")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no class sub-folders"):
        load_image_folder(tmp_path / "empty", cache_dir=tmp_path / "cache")
    (tmp_path / "empty" / "dogs").mkdir()
    with pytest.raises(ValueError, match="dogs holds no images"):
        load_image_folder(tmp_path / "empty", cache_dir=tmp_path / "cache")


def test_a_subset_decodes_only_its_images(tree, tmp_path, monkeypatch):
    whole = load_image_folder(tree, size=16, cache_dir=tmp_path / "whole", log=None)
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    part = load_image_folder(tree, size=16, cache_dir=tmp_path / "part", subset=3, seed=1, log=None)
    assert len(opened) == 3, "only the three chosen images are decoded"
    expected = whole.subset(3, seed=1)
    assert np.array_equal(part.images, expected.images) and np.array_equal(part.labels, expected.labels)


def test_decoding_runs_on_several_threads_in_order(tree, monkeypatch):
    import threading
    from minialex.data import decode_images
    seen = set()
    import minialex.data.image_folder as image_folder
    real = image_folder._decode
    monkeypatch.setattr(image_folder, "_decode", lambda p, s: seen.add(threading.get_ident()) or real(p, s))
    files = sorted(tree.glob("*/*.*"))
    files = [f for f in files if f.suffix != ".txt"] * 8
    out = decode_images(files, 8, workers=3).images
    assert out.shape == (40, 3, 8, 8)
    assert all(np.array_equal(out[i], decode_image(files[i], 8)) for i in range(len(files))), "each in its place"
    assert len(seen) > 1, "the work was spread over the pool's threads"


def test_the_cache_says_where_it_is_and_how_large(tree, tmp_path):
    messages = []
    load_image_folder(tree, size=16, cache_dir=tmp_path / "cache", name="pets", log=messages.append)
    load_image_folder(tree, size=16, cache_dir=tmp_path / "cache", name="pets", log=messages.append)
    assert messages[0].startswith("warning: left out 1 file(s)") and messages[0].endswith("ants/notes.txt")
    assert messages[1].startswith("cached 5 decoded images (0 MiB) in ") and "pets-16-" in messages[1]
    assert messages[3].startswith("read 5 decoded images from the cache ") and str(tmp_path) in messages[3]


def test_readable_class_names_for_id_folders(tree, tmp_path):
    ds = load_image_folder(tree, size=8, cache_dir=tmp_path / "c", class_names={"ants": "Formicidae"}, log=None)
    assert ds.classes == ["Formicidae", "cats"]


def test_a_decompression_bomb_is_named(tree, tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1999)  # Pillow refuses over twice that: 90x45 only
    with pytest.raises(ValueError, match="z.png is too large to decode safely"):
        load_image_folder(tree, size=8, cache_dir=tmp_path / "c", log=None)
