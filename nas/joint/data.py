"""Image-classification data for the joint search: CIFAR-10/100 in their binary distribution format from a
local directory (never downloaded, never unpickled), and a synthetic stand-in generated from a seed.

CIFAR binary format (https://www.cs.toronto.edu/~kriz/cifar.html, "binary version"):

* CIFAR-10: ``data_batch_1.bin`` … ``data_batch_5.bin`` (training) and ``test_batch.bin``; each record is
  1 label byte (0–9) followed by 3072 pixel bytes (1024 red, 1024 green, 1024 blue; row-major 32×32).
* CIFAR-100: ``train.bin`` and ``test.bin``; each record is 1 coarse-label byte (0–19), 1 fine-label byte
  (0–99) and the same 3072 pixel bytes.  The fine label is the class.

The directory may hold the files directly or in the archive's folder (``cifar-10-batches-bin`` /
``cifar-100-binary``).  Images stay ``uint8`` (N, 3, 32, 32); normalisation happens per batch.
"""

from __future__ import annotations

from accel.errors import InputError
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["DataError", "ImageData", "load_cifar", "make_synthetic", "split_train_val", "CIFAR_MEAN", "CIFAR_STD"]

PIXELS = 3 * 32 * 32
CIFAR10_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR10_TEST = "test_batch.bin"
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)  # per-channel mean / std of CIFAR-10 training images in [0, 1]
CIFAR_STD = (0.2470, 0.2435, 0.2616)


class DataError(InputError):
    """Missing or malformed dataset files."""


@dataclass
class ImageData:
    """A labelled image set: ``images`` uint8 (N, 3, H, W), ``labels`` int64 (N,)."""

    images: np.ndarray
    labels: np.ndarray
    num_classes: int
    name: str
    mean: tuple[float, float, float] = CIFAR_MEAN
    std: tuple[float, float, float] = CIFAR_STD
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, idx: np.ndarray, name: str | None = None) -> "ImageData":
        return ImageData(self.images[idx], self.labels[idx], self.num_classes, name or self.name, self.mean,
                         self.std, dict(self.meta))


def _read_records(path: Path, label_bytes: int, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    rec = label_bytes + PIXELS
    if not path.is_file():  # a FIFO would block the read forever
        raise DataError(f"{path}: not a regular file")
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e}") from None
    if raw.size == 0 or raw.size % rec:
        raise DataError(f"{path}: {raw.size} bytes is not a whole number of {rec}-byte CIFAR records "
                        f"({label_bytes} label byte(s) + {PIXELS} pixel bytes)")
    raw = raw.reshape(-1, rec)
    labels = raw[:, label_bytes - 1].astype(np.int64)
    bad = np.flatnonzero(labels >= num_classes)
    if len(bad):
        raise DataError(f"{path}: record {int(bad[0])} has label {int(labels[bad[0]])}, "
                        f"outside 0..{num_classes - 1}")
    if label_bytes == 2:
        coarse = raw[:, 0]
        badc = np.flatnonzero(coarse >= 20)
        if len(badc):
            raise DataError(f"{path}: record {int(badc[0])} has coarse label {int(coarse[badc[0]])}, outside 0..19")
    images = raw[:, label_bytes:].reshape(-1, 3, 32, 32).copy()
    return images, labels


def load_cifar(directory: str | Path) -> tuple[ImageData, ImageData]:
    """(train, test) of CIFAR-10 or CIFAR-100 (detected from the file names) in ``directory``.
    Raises :class:`DataError` naming the missing or malformed file."""
    root = Path(directory)
    if not root.is_dir():
        raise DataError(f"{directory}: not a directory")
    for sub in (root, root / "cifar-10-batches-bin", root / "cifar-100-binary"):
        if (sub / CIFAR10_TEST).exists() or (sub / CIFAR10_TRAIN[0]).exists():
            missing = [f for f in (*CIFAR10_TRAIN, CIFAR10_TEST) if not (sub / f).exists()]
            if missing:
                raise DataError(f"{sub}: CIFAR-10 binary set is incomplete, missing {', '.join(missing)}")
            parts = [_read_records(sub / f, 1, 10) for f in CIFAR10_TRAIN]
            train = ImageData(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), 10,
                              "cifar10-train", meta={"source": str(sub)})
            ti, tl = _read_records(sub / CIFAR10_TEST, 1, 10)
            return train, ImageData(ti, tl, 10, "cifar10-test", meta={"source": str(sub)})
        if (sub / "train.bin").exists() or (sub / "test.bin").exists():
            missing = [f for f in ("train.bin", "test.bin") if not (sub / f).exists()]
            if missing:
                raise DataError(f"{sub}: CIFAR-100 binary set is incomplete, missing {', '.join(missing)}")
            tri, trl = _read_records(sub / "train.bin", 2, 100)
            tei, tel = _read_records(sub / "test.bin", 2, 100)
            # CIFAR-100 channel statistics differ slightly from CIFAR-10's; use the training set's own
            mean, std = _channel_stats(tri)
            return (ImageData(tri, trl, 100, "cifar100-train", mean, std, {"source": str(sub)}),
                    ImageData(tei, tel, 100, "cifar100-test", mean, std, {"source": str(sub)}))
    raise DataError(f"{directory}: no CIFAR binary files found (expected data_batch_1.bin … data_batch_5.bin and "
                    "test_batch.bin for CIFAR-10, or train.bin and test.bin for CIFAR-100)")


def _channel_stats(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    x = images.astype(np.float64) / 255.0
    return tuple(x.mean(axis=(0, 2, 3)).tolist()), tuple(x.std(axis=(0, 2, 3)).tolist())


def make_synthetic(n: int, num_classes: int = 10, size: int = 32, seed: int = 0, noise: float = 0.35,
                   shift: int = 3) -> ImageData:
    """A learnable synthetic image set: class c is a random smooth colour pattern (a sum of four 2-D
    sinusoids per channel with class-specific frequencies and phases); each image is its class pattern,
    randomly shifted by up to ``shift`` pixels, with a random contrast in [0.6, 1.0] and Gaussian pixel noise
    of ``noise`` × the pattern's dynamic range.  ``seed`` fixes the class patterns *and* the draws, so
    ``make_synthetic(n, seed=s)`` is reproducible; the class patterns depend only on (num_classes, size,
    seed // 1000), so train and test sets drawn with seeds 1000k + i share their classes.
    """
    if n < 1 or num_classes < 2 or size < 4:
        raise DataError("synthetic data needs n >= 1, num_classes >= 2, size >= 4")
    prng = np.random.Generator(np.random.PCG64(seed // 1000))
    yy, xx = np.meshgrid(np.arange(size + 2 * shift), np.arange(size + 2 * shift), indexing="ij")
    patterns = np.zeros((num_classes, 3, size + 2 * shift, size + 2 * shift))
    for c in range(num_classes):
        for ch in range(3):
            for _ in range(4):
                fy, fx = prng.uniform(0.5, 3.0, 2) * 2 * np.pi / size
                ph = prng.uniform(0, 2 * np.pi)
                patterns[c, ch] += prng.uniform(0.5, 1.0) * np.sin(fy * yy + fx * xx + ph)
    patterns /= np.abs(patterns).max(axis=(1, 2, 3), keepdims=True)
    rng = np.random.Generator(np.random.PCG64(seed))
    labels = rng.integers(0, num_classes, n).astype(np.int64)
    dy, dx = rng.integers(0, 2 * shift + 1, (2, n))
    contrast = rng.uniform(0.6, 1.0, n)
    img = np.empty((n, 3, size, size))
    for i in range(n):
        img[i] = patterns[labels[i], :, dy[i]:dy[i] + size, dx[i]:dx[i] + size] * contrast[i]
    img += rng.normal(0.0, noise * 2.0, img.shape)
    images = np.clip(np.round((img + 1.0) * 127.5), 0, 255).astype(np.uint8)
    mean, std = _channel_stats(images)
    return ImageData(images, labels, num_classes, f"synthetic-{seed}", mean, std,
                     {"seed": seed, "noise": noise, "shift": shift})


def split_train_val(data: ImageData, val_fraction: float, seed: int = 0) -> tuple[ImageData, ImageData]:
    """A seeded random split into (train, val); ``val_fraction`` in (0, 1)."""
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n_val = max(1, int(round(len(data) * val_fraction)))
    if n_val >= len(data):
        raise DataError(f"{data.name}: {len(data)} images are too few to split off {val_fraction:.0%} for validation")
    perm = np.random.Generator(np.random.PCG64(seed)).permutation(len(data))
    return data.subset(perm[n_val:], data.name + "-train"), data.subset(perm[:n_val], data.name + "-val")
