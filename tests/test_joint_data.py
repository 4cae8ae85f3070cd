"""CIFAR binary loader (on files written here in the documented format) and the synthetic data set."""

import numpy as np
import pytest

from nas.joint.data import DataError, load_cifar, make_synthetic, split_train_val


def _records(rng, n, label_bytes, num_classes):
    labels = rng.integers(0, num_classes, n).astype(np.uint8)
    pixels = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
    heads = [labels] if label_bytes == 1 else [(labels // 5).astype(np.uint8), labels]
    return np.concatenate([np.stack(heads, 1), pixels], axis=1), labels, pixels


def _write_cifar10(root, rng, per_file=7):
    sub = root / "cifar-10-batches-bin"
    sub.mkdir()
    all_l, all_p = [], []
    for i in range(1, 6):
        rec, l, p = _records(rng, per_file, 1, 10)
        rec.tofile(sub / f"data_batch_{i}.bin")
        all_l.append(l)
        all_p.append(p)
    rec, tl, tp = _records(rng, 5, 1, 10)
    rec.tofile(sub / "test_batch.bin")
    return np.concatenate(all_l), np.concatenate(all_p), tl, tp


def test_cifar10_binary_layout(tmp_path):
    rng = np.random.default_rng(0)
    labels, pixels, tl, tp = _write_cifar10(tmp_path, rng)
    train, test = load_cifar(tmp_path)
    assert train.images.shape == (35, 3, 32, 32) and train.images.dtype == np.uint8
    assert test.images.shape == (5, 3, 32, 32) and train.num_classes == 10
    np.testing.assert_array_equal(train.labels, labels)
    np.testing.assert_array_equal(test.labels, tl)
    # 1024 red, then 1024 green, then 1024 blue bytes, each row-major 32x32
    i = 11
    assert train.images[i, 0, 0, 0] == pixels[i, 0]
    assert train.images[i, 0, 2, 5] == pixels[i, 2 * 32 + 5]
    assert train.images[i, 1, 0, 0] == pixels[i, 1024]
    assert train.images[i, 2, 31, 31] == pixels[i, 3071]
    # the directory holding the .bin files works too
    train2, _ = load_cifar(tmp_path / "cifar-10-batches-bin")
    np.testing.assert_array_equal(train2.images, train.images)


def test_cifar100_fine_labels(tmp_path):
    rng = np.random.default_rng(1)
    rec, labels, pixels = _records(rng, 9, 2, 100)
    rec.tofile(tmp_path / "train.bin")
    rec[:4].tofile(tmp_path / "test.bin")
    train, test = load_cifar(tmp_path)
    assert train.num_classes == 100 and len(test) == 4
    np.testing.assert_array_equal(train.labels, labels)
    assert train.images[3, 2, 1, 0] == pixels[3, 2048 + 32]
    assert len(train.mean) == 3 and all(0 < s for s in train.std)


def test_cifar_errors(tmp_path):
    with pytest.raises(DataError, match="not a directory"):
        load_cifar(tmp_path / "nope")
    with pytest.raises(DataError, match="no CIFAR binary files"):
        load_cifar(tmp_path)
    rng = np.random.default_rng(2)
    _write_cifar10(tmp_path, rng)
    sub = tmp_path / "cifar-10-batches-bin"
    (sub / "data_batch_3.bin").unlink()
    with pytest.raises(DataError, match="missing data_batch_3.bin"):
        load_cifar(tmp_path)
    rec, _, _ = _records(rng, 3, 1, 10)
    rec.tofile(sub / "data_batch_3.bin")
    with open(sub / "data_batch_3.bin", "ab") as f:
        f.write(b"\x00" * 10)
    with pytest.raises(DataError, match="not a whole number of 3073-byte"):
        load_cifar(tmp_path)
    rec[1, 0] = 10
    rec.tofile(sub / "data_batch_3.bin")
    with pytest.raises(DataError, match="record 1 has label 10"):
        load_cifar(tmp_path)


def test_synthetic_is_deterministic_and_learnable():
    a = make_synthetic(300, seed=1000)
    b = make_synthetic(300, seed=1000)
    np.testing.assert_array_equal(a.images, b.images)
    test = make_synthetic(200, seed=1001)  # same class patterns, other draws
    assert not np.array_equal(a.images[:10], test.images[:10])
    # nearest class mean (a linear classifier) is far above chance: the classes are real
    x = a.images.reshape(300, -1).astype(float)
    means = np.stack([x[a.labels == c].mean(0) for c in range(10)])
    xt = test.images.reshape(200, -1).astype(float)
    pred = np.argmin(((xt[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    assert (pred == test.labels).mean() > 0.5
    tr, va = split_train_val(a, 0.2, seed=0)
    assert len(tr) == 240 and len(va) == 60
    # a partition: every image lands in exactly one part
    rows = lambda d: sorted(bytes(r) for r in d.images.reshape(len(d), -1))  # noqa: E731
    assert sorted(rows(tr) + rows(va)) == rows(a)
    with pytest.raises(DataError):
        split_train_val(a, 1.5)
