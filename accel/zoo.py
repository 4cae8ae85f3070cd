"""Built-in network zoo with the exact published layer shapes.

Every network is a function ``name(batch=1, resolution=<default>) -> Network`` written with
:class:`~accel.workload.NetworkBuilder`, so the definitions read like the reference model code they
transcribe.  Conventions shared by all of them:

* Only costed operations become layers: convolutions, fully connected layers, pooling, residual adds
  and squeeze-excite scaling.  Activations (ReLU, ReLU6, hardswish, hardsigmoid), BatchNorm and
  dropout are fused into the producing layer by any real compiler and are *not* layers; LRN in
  AlexNet is omitted as well (it is not costed).
* Flatten and reshape are free (shape bookkeeping only).
* MAC counts are multiply-accumulates of conv + FC layers, which is what the papers and torchvision's
  ``GFLOPS`` column (really GMACs) report.

Reference numbers (batch 1, default resolution), as measured by ``tests/test_zoo.py``:

==================  ===========  ==========================================================
network             MACs         source of the shapes
==================  ===========  ==========================================================
alexnet             724.4 M      Krizhevsky et al. 2012 / Caffe ``bvlc_alexnet`` (Eyeriss)
vgg16               15.47 G      Simonyan & Zisserman 2015, configuration D
resnet18            1.814 G      He et al. 2016 / ``torchvision.models.resnet18``
resnet50            4.089 G      ``torchvision.models.resnet50`` (v1.5)
mobilenet_v2        300.8 M      Sandler et al. 2018 / ``torchvision.models.mobilenet_v2``
mobilenet_v3_large  ~217 M       Howard et al. 2019 / ``torchvision.models.mobilenet_v3_large``
==================  ===========  ==========================================================

Transformers and LLMs (``bert_base``, ``vit_b_16``, ``gpt2``, ``llama2_7b_layer``, with the options
``phase``, ``seq``, ``context``) are defined in :mod:`accel.zoo_transformer` and registered here.
"""

from __future__ import annotations

from typing import Callable

from accel.workload import Network, NetworkBuilder, Tensor, WorkloadError

__all__ = [
    "ZOO",
    "alexnet",
    "get_network",
    "list_networks",
    "network_options",
    "parse_network_options",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "resnet18",
    "resnet50",
    "vgg16",
]

ZOO: dict[str, Callable[..., Network]] = {}


def _register(fn: Callable[..., Network]) -> Callable[..., Network]:
    ZOO[fn.__name__] = fn
    return fn


def _start(name: str, batch: int, resolution: int) -> tuple[NetworkBuilder, Tensor]:
    if batch < 1:
        raise WorkloadError(f"{name}: batch must be >= 1, got {batch}")
    if resolution < 1:
        raise WorkloadError(f"{name}: resolution must be >= 1, got {resolution}")
    b = NetworkBuilder(name)
    return b, b.input(batch, 3, resolution, resolution)


def _classifier(b: NetworkBuilder, x: Tensor, layers: list[tuple[str, int]]) -> Tensor:
    """Flatten, then a chain of fully connected layers ``[(name, out_features), ...]``."""
    x = b.flatten(x)
    for name, features in layers:
        x = b.linear(x, features, name=name)
    return x


# ---------------------------------------------------------------------------------------------
# AlexNet
# ---------------------------------------------------------------------------------------------
@_register
def alexnet(batch: int = 1, resolution: int = 227) -> Network:
    """The original two-tower AlexNet (Krizhevsky, Sutskever & Hinton, NIPS 2012) as run on Eyeriss.

    Shapes follow the Caffe ``bvlc_alexnet`` deploy prototxt, which is the network benchmarked in the
    Eyeriss papers (Chen et al., ISSCC/JSSC 2016): a 227×227 input, CONV1 96×11×11 stride 4, CONV2
    256×5×5 pad 2, CONV3 384×3×3, CONV4 384×3×3, CONV5 256×3×3 (pad 1), with the GPU split kept as
    ``groups=2`` in CONV2, CONV4 and CONV5; 3×3 stride-2 max pools after CONV1, CONV2 and CONV5; then
    FC6 9216→4096, FC7 4096→4096, FC8 4096→1000.  LRN after CONV1/CONV2 is omitted (not costed).

    Per-image MACs: CONV1 105.4 M, CONV2 223.9 M, CONV3 149.5 M, CONV4 112.1 M, CONV5 74.8 M
    (665.8 M of conv), FC 58.6 M; total 724.4 M.  Parameters (with biases) 60,965,224.
    """
    b, x = _start("alexnet", batch, resolution)
    x = b.conv(x, 96, kernel=11, stride=4, name="CONV1")
    x = b.pool(x, "max", 3, stride=2, name="POOL1")
    x = b.conv(x, 256, kernel=5, padding=2, groups=2, name="CONV2")
    x = b.pool(x, "max", 3, stride=2, name="POOL2")
    x = b.conv(x, 384, kernel=3, padding=1, name="CONV3")
    x = b.conv(x, 384, kernel=3, padding=1, groups=2, name="CONV4")
    x = b.conv(x, 256, kernel=3, padding=1, groups=2, name="CONV5")
    x = b.pool(x, "max", 3, stride=2, name="POOL5")
    _classifier(b, x, [("FC6", 4096), ("FC7", 4096), ("FC8", 1000)])
    return b.build()


# ---------------------------------------------------------------------------------------------
# VGG-16
# ---------------------------------------------------------------------------------------------
# Configuration "D" of Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
# Recognition" (ICLR 2015), Table 1: (output channels of the 3×3 pad-1 convs) per stage, each stage
# closed by a 2×2 stride-2 max pool.
_VGG16_STAGES: tuple[tuple[int, ...], ...] = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512),
                                              (512, 512, 512))


@_register
def vgg16(batch: int = 1, resolution: int = 224) -> Network:
    """VGG-16 (configuration D, Simonyan & Zisserman 2015; same shapes as ``torchvision.models.vgg16``).

    13 3×3 convs (pad 1) in five stages of 64/128/256/512/512 channels, five 2×2 stride-2 max pools,
    FC6 25088→4096, FC7 4096→4096, FC8 4096→1000.  Layers use the Caffe names ``conv1_1`` … ``fc8``.
    torchvision's ``AdaptiveAvgPool2d((7, 7))`` is the identity at 224×224 and is not a layer; at other
    resolutions FC6 takes the flattened 512×(res/32)² map.  15.47 GMACs, 138,357,544 parameters.
    """
    b, x = _start("vgg16", batch, resolution)
    for stage, widths in enumerate(_VGG16_STAGES, start=1):
        for i, width in enumerate(widths, start=1):
            x = b.conv(x, width, kernel=3, padding=1, name=f"conv{stage}_{i}")
        x = b.pool(x, "max", 2, stride=2, name=f"pool{stage}")
    _classifier(b, x, [("fc6", 4096), ("fc7", 4096), ("fc8", 1000)])
    return b.build()


# ---------------------------------------------------------------------------------------------
# ResNet (torchvision layout)
# ---------------------------------------------------------------------------------------------
def _downsample(b: NetworkBuilder, x: Tensor, out: int, stride: int, name: str) -> Tensor:
    """The projection shortcut (1×1 conv, stride as the block) when the shape changes, else identity."""
    if stride != 1 or x.shape[1] != out:
        return b.conv(x, out, kernel=1, stride=stride, name=f"{name}.downsample")
    return x


def _basic_block(b: NetworkBuilder, x: Tensor, planes: int, stride: int, name: str) -> Tensor:
    """torchvision ``BasicBlock`` (expansion 1): 3×3 conv (stride) → 3×3 conv, + shortcut."""
    y = b.conv(x, planes, kernel=3, stride=stride, padding=1, name=f"{name}.conv1")
    y = b.conv(y, planes, kernel=3, padding=1, name=f"{name}.conv2")
    return b.add(y, _downsample(b, x, planes, stride, name), name=f"{name}.add")


def _bottleneck(b: NetworkBuilder, x: Tensor, planes: int, stride: int, name: str) -> Tensor:
    """torchvision ``Bottleneck`` (v1.5, expansion 4): 1×1 → 3×3 (stride here) → 1×1 ×4, + shortcut."""
    y = b.conv(x, planes, kernel=1, name=f"{name}.conv1")
    y = b.conv(y, planes, kernel=3, stride=stride, padding=1, name=f"{name}.conv2")
    y = b.conv(y, planes * 4, kernel=1, name=f"{name}.conv3")
    return b.add(y, _downsample(b, x, planes * 4, stride, name), name=f"{name}.add")


def _resnet(name: str, block: Callable[..., Tensor], blocks: tuple[int, int, int, int], batch: int,
            resolution: int) -> Network:
    """torchvision ``ResNet``: 7×7/2 stem conv, 3×3/2 max pool (pad 1), four stages of 64/128/256/512
    planes (stride 2 in the first block of stages 2-4), global average pool, FC → 1000."""
    b, x = _start(name, batch, resolution)
    x = b.conv(x, 64, kernel=7, stride=2, padding=3, name="conv1")
    x = b.pool(x, "max", 3, stride=2, padding=1, name="maxpool")
    for stage, (planes, n) in enumerate(zip((64, 128, 256, 512), blocks), start=1):
        for i in range(n):
            stride = 2 if stage > 1 and i == 0 else 1
            x = block(b, x, planes, stride, f"layer{stage}.{i}")
    x = b.global_avgpool(x, name="avgpool")
    _classifier(b, x, [("fc", 1000)])
    return b.build()


@_register
def resnet18(batch: int = 1, resolution: int = 224) -> Network:
    """ResNet-18 (He et al., CVPR 2016, Table 1; ``torchvision.models.resnet18``): [2, 2, 2, 2] basic
    blocks, 20 convs (3 of them 1×1 downsample shortcuts) + 1 FC.  1.814 GMACs, 11,689,512 parameters."""
    return _resnet("resnet18", _basic_block, (2, 2, 2, 2), batch, resolution)


@_register
def resnet50(batch: int = 1, resolution: int = 224) -> Network:
    """ResNet-50 v1.5 (``torchvision.models.resnet50``; stride in the 3×3 conv of the bottleneck):
    [3, 4, 6, 3] bottlenecks, 53 convs (4 of them 1×1 downsample shortcuts) + 1 FC.
    4.089 GMACs, 25,557,032 parameters."""
    return _resnet("resnet50", _bottleneck, (3, 4, 6, 3), batch, resolution)


# ---------------------------------------------------------------------------------------------
# MobileNets (torchvision layout)
# ---------------------------------------------------------------------------------------------
def _make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """torchvision's ``_make_divisible`` (from the TF MobileNet code): round to a multiple of
    ``divisor`` without going more than 10 % down."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _squeeze_excite(b: NetworkBuilder, x: Tensor, squeeze: int, name: str) -> Tensor:
    """torchvision ``SqueezeExcitation``: global avg pool → 1×1 conv (C→squeeze, ReLU) → 1×1 conv
    (squeeze→C, hardsigmoid) → per-channel scale of the input."""
    s = b.global_avgpool(x, name=f"{name}.pool")
    s = b.conv(s, squeeze, kernel=1, name=f"{name}.fc1")
    s = b.conv(s, x.shape[1], kernel=1, name=f"{name}.fc2")
    return b.eltwise("mul", x, s, name=f"{name}.scale")


def _inverted_residual(b: NetworkBuilder, x: Tensor, expanded: int, out: int, kernel: int, stride: int,
                       name: str, se_squeeze: int | None = None) -> Tensor:
    """MobileNetV2/V3 inverted residual: 1×1 expand (skipped when ``expanded`` equals the input
    channels) → k×k depthwise (stride) → optional squeeze-excite → 1×1 linear projection, with a
    residual add when stride is 1 and input and output channels match."""
    inp = x.shape[1]
    y = x
    if expanded != inp:
        y = b.conv(y, expanded, kernel=1, name=f"{name}.expand")
    y = b.conv(y, expanded, kernel=kernel, stride=stride, padding=(kernel - 1) // 2, groups=expanded,
               name=f"{name}.dw")
    if se_squeeze is not None:
        y = _squeeze_excite(b, y, se_squeeze, f"{name}.se")
    y = b.conv(y, out, kernel=1, name=f"{name}.project")
    if stride == 1 and inp == out:
        y = b.add(y, x, name=f"{name}.add")
    return y


# (t expansion, c output channels, n repeats, s first stride): Sandler et al. 2018, Table 2, which is
# torchvision's ``inverted_residual_setting``.
_MOBILENET_V2_SETTING: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


@_register
def mobilenet_v2(batch: int = 1, resolution: int = 224) -> Network:
    """MobileNetV2, width 1.0 (Sandler et al., CVPR 2018, Table 2; ``torchvision.models.mobilenet_v2``).

    ``features.0`` 3×3/2 conv → 32, seventeen inverted residual blocks ``features.1``–``features.17``
    (hidden = t × input channels; 3×3 depthwise), ``features.18`` 1×1 conv → 1280, global average pool,
    ``classifier.1`` FC 1280→1000.  300.8 MMACs (paper: 300 M), 3,504,872 parameters.
    """
    b, x = _start("mobilenet_v2", batch, resolution)
    x = b.conv(x, 32, kernel=3, stride=2, padding=1, name="features.0")
    idx = 1
    for t, c, n, s in _MOBILENET_V2_SETTING:
        for i in range(n):
            x = _inverted_residual(b, x, x.shape[1] * t, c, 3, s if i == 0 else 1, f"features.{idx}")
            idx += 1
    x = b.conv(x, 1280, kernel=1, name=f"features.{idx}")
    x = b.global_avgpool(x, name="avgpool")
    _classifier(b, x, [("classifier.1", 1000)])
    return b.build()


# (kernel, expanded channels, output channels, squeeze-excite, stride) per bneck block: Howard et al.
# 2019, Table 1 = torchvision's ``_mobilenet_v3_conf("mobilenet_v3_large")`` (input channels are the
# previous block's output; the activation, ReLU or hardswish, is fused and does not change shapes).
_MOBILENET_V3_LARGE_SETTING: tuple[tuple[int, int, int, bool, int], ...] = (
    (3, 16, 16, False, 1),
    (3, 64, 24, False, 2),
    (3, 72, 24, False, 1),
    (5, 72, 40, True, 2),
    (5, 120, 40, True, 1),
    (5, 120, 40, True, 1),
    (3, 240, 80, False, 2),
    (3, 200, 80, False, 1),
    (3, 184, 80, False, 1),
    (3, 184, 80, False, 1),
    (3, 480, 112, True, 1),
    (3, 672, 112, True, 1),
    (5, 672, 160, True, 2),
    (5, 960, 160, True, 1),
    (5, 960, 160, True, 1),
)


@_register
def mobilenet_v3_large(batch: int = 1, resolution: int = 224) -> Network:
    """MobileNetV3-Large, width 1.0 (Howard et al., ICCV 2019, Table 1; ``torchvision.models.mobilenet_v3_large``).

    ``features.0`` 3×3/2 conv → 16 (hardswish), fifteen bneck blocks ``features.1``–``features.15``
    whose squeeze-excite uses ``_make_divisible(expanded // 4, 8)`` squeeze channels,
    ``features.16`` 1×1 conv → 960, global average pool, ``classifier.0`` FC 960→1280 (hardswish),
    ``classifier.3`` FC 1280→1000.  ~217 MMACs counting conv + FC (paper: 219 M; torchvision 0.22
    GFLOPS), 5,483,032 parameters.
    """
    b, x = _start("mobilenet_v3_large", batch, resolution)
    x = b.conv(x, 16, kernel=3, stride=2, padding=1, name="features.0")
    for idx, (kernel, expanded, out, use_se, stride) in enumerate(_MOBILENET_V3_LARGE_SETTING, start=1):
        squeeze = _make_divisible(expanded // 4, 8) if use_se else None
        x = _inverted_residual(b, x, expanded, out, kernel, stride, f"features.{idx}", se_squeeze=squeeze)
    x = b.conv(x, 6 * x.shape[1], kernel=1, name=f"features.{len(_MOBILENET_V3_LARGE_SETTING) + 1}")
    x = b.global_avgpool(x, name="avgpool")
    _classifier(b, x, [("classifier.0", 1280), ("classifier.3", 1000)])
    return b.build()


# ---------------------------------------------------------------------------------------------
# Registry access
# ---------------------------------------------------------------------------------------------
def list_networks() -> list[str]:
    """Names of the built-in networks, sorted."""
    return sorted(ZOO)


def network_options(name: str) -> tuple[str, ...]:
    """The options zoo network ``name`` takes besides ``batch`` (the transformers' ``phase``, ``seq``,
    ``context``: :mod:`accel.zoo_transformer`); ``resolution`` is not an option of the registry."""
    import inspect

    fn = ZOO[_key(name)]
    return tuple(p for p in inspect.signature(fn).parameters if p not in ("batch", "resolution"))


def _key(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    if key not in ZOO:
        raise WorkloadError(f"unknown network {name!r}; known networks: {', '.join(list_networks())}")
    return key


def get_network(name: str, batch: int = 1, **options) -> Network:
    """Build a zoo network by name (case-insensitive; ``-`` may stand for ``_``) at its default resolution.
    ``options``: the network's own options (:func:`network_options`), e.g. ``phase="decode", context=1024``
    for ``gpt2``; any other is refused naming the ones it takes."""
    key = _key(name)
    allowed = network_options(key)
    bad = sorted(set(options) - set(allowed))
    if bad:
        raise WorkloadError(f"{key}: unknown option{'s' if len(bad) > 1 else ''} {', '.join(bad)} "
                            f"({'options: ' + ', '.join(allowed) if allowed else 'it takes none'})")
    return ZOO[key](batch=batch, **options)


def parse_network_options(name: str, query: str) -> dict[str, object]:
    """The options of a zoo network string ``NAME?KEY=VALUE&KEY=VALUE`` (``query``: the part after ``?``), e.g.
    ``gpt2?phase=decode&context=1024``: each key one of :func:`network_options` at most once, integer options
    (``seq``, ``context``) decimal.  Values are checked when the network is built.  Raises
    :class:`WorkloadError` naming the key."""
    allowed = network_options(name)
    out: dict[str, object] = {}
    for item in query.split("&"):
        k, eq, v = item.partition("=")
        k, v = k.strip().lower(), v.strip()
        if not eq or not k or not v:
            raise WorkloadError(f"{name}: option {item!r}: expected KEY=VALUE")
        if k not in allowed:
            raise WorkloadError(f"{name}: unknown option {k!r} "
                                f"({'options: ' + ', '.join(allowed) if allowed else 'it takes none'})")
        if k in out:
            raise WorkloadError(f"{name}: option {k!r} is given twice")
        if k in OPTION_TYPES and OPTION_TYPES[k] is int:
            if not v.isdigit() or len(v) > 12:
                raise WorkloadError(f"{name}: option {k}={v!r} is not a positive integer")
            out[k] = int(v)
        else:
            out[k] = v.lower()
    return out


from accel.zoo_transformer import OPTION_TYPES  # noqa: E402
from accel.zoo_transformer import TRANSFORMERS as _TRANSFORMERS  # noqa: E402 - registered after the CNNs

ZOO.update(_TRANSFORMERS)
