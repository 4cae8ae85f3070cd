"""The built-in zoo networks as PyTorch modules, and an offline ONNX exporter for them.

Every network of :mod:`accel.zoo` is written here as a plain ``torch.nn.Module`` (no torchvision) with the
torchvision layout (BatchNorm, activations and dropout included; AlexNet is the grouped Caffe
``bvlc_alexnet`` without LRN, as in the zoo).  :func:`export_onnx` writes one to an ``.onnx`` file with
PyTorch's built-in TorchScript exporter (:func:`accel.nn.export_module_onnx`, ``dynamo=False``), which needs no network
access and no extra package, in eval mode: the exporter folds each BatchNorm into its Conv, so the
resulting graph imports (:func:`accel.onnx_import.load_onnx_network`) to exactly the zoo's layer list.
The transformers (:mod:`accel.zoo_transformer`) are built from :mod:`accel.nn`'s transformer blocks by
:func:`transformer_model`.
Only VGG-16 differs from torchvision: its ``AdaptiveAvgPool2d((7, 7))`` (the identity at 224×224, and not
a layer in the zoo either) is left out.

``torch`` is imported lazily: importing this module does not need it; calling anything here does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

__all__ = ["INPUT_RESOLUTION", "MODELS", "build_model", "export_onnx", "input_spec", "list_models",
           "transformer_model"]

# default input resolution per network (as accel.zoo)
INPUT_RESOLUTION = {"alexnet": 227, "vgg16": 224, "resnet18": 224, "resnet50": 224, "mobilenet_v2": 224,
                    "mobilenet_v3_large": 224}

MODELS: dict[str, Callable[[], object]] = {}


def _register(fn):
    MODELS[fn.__name__] = fn
    return fn


def _classes():
    """Module classes, defined on first use so that importing this file does not import torch."""
    global _CLASSES
    if _CLASSES is not None:
        return _CLASSES
    import torch
    from torch import nn

    from accel.nn import ConvBNAct, InvertedResidual
    from accel.zoo import _make_divisible

    class AlexNet(nn.Module):
        """Caffe ``bvlc_alexnet`` (two-tower groups, no LRN), 227×227 input."""

        def __init__(self, num_classes: int = 1000):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
                nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
                nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(inplace=True),
                nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))
            self.classifier = nn.Sequential(
                nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True), nn.Dropout(),
                nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(), nn.Linear(4096, num_classes))

        def forward(self, x):
            return self.classifier(torch.flatten(self.features(x), 1))

    class VGG16(nn.Module):
        """torchvision ``vgg16`` (configuration D) without the identity ``AdaptiveAvgPool2d((7, 7))``."""

        cfg = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")

        def __init__(self, num_classes: int = 1000):
            super().__init__()
            layers, c = [], 3
            for v in self.cfg:
                if v == "M":
                    layers.append(nn.MaxPool2d(2, 2))
                else:
                    layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
                    c = v
            self.features = nn.Sequential(*layers)
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(),
                nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(), nn.Linear(4096, num_classes))

        def forward(self, x):
            return self.classifier(torch.flatten(self.features(x), 1))

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, cin, planes, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = None
            if stride != 1 or cin != planes:
                self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            idt = x if self.downsample is None else self.downsample(x)
            return self.relu(y + idt)

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, cin, planes, stride=1):
            super().__init__()
            out = planes * 4
            self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)  # v1.5: stride in the 3x3
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(out)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = None
            if stride != 1 or cin != out:
                self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.relu(self.bn2(self.conv2(y)))
            y = self.bn3(self.conv3(y))
            idt = x if self.downsample is None else self.downsample(x)
            return self.relu(y + idt)

    class ResNet(nn.Module):
        def __init__(self, block, layers, num_classes: int = 1000):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            c = 64
            stages = []
            for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers)):
                blocks = []
                for j in range(n):
                    blocks.append(block(c, planes, 2 if (i > 0 and j == 0) else 1))
                    c = planes * block.expansion
                stages.append(nn.Sequential(*blocks))
            self.layer1, self.layer2, self.layer3, self.layer4 = stages
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(c, num_classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    class MobileNetV2(nn.Module):
        # (t, c, n, s): Sandler et al. 2018, Table 2
        setting = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                   (6, 320, 1, 1))

        def __init__(self, num_classes: int = 1000):
            super().__init__()
            c = 32
            feats = [ConvBNAct(3, c, 3, 2, act=nn.ReLU6)]
            for t, cout, n, s in self.setting:
                for i in range(n):
                    feats.append(InvertedResidual(c, int(round(c * t)), cout, 3, s if i == 0 else 1, act=nn.ReLU6))
                    c = cout
            feats.append(ConvBNAct(c, 1280, 1, act=nn.ReLU6))
            self.features = nn.Sequential(*feats)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

        def forward(self, x):
            x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
            return self.classifier(torch.flatten(x, 1))

    class MobileNetV3Large(nn.Module):
        # (in, kernel, expanded, out, SE, activation, stride): torchvision _mobilenet_v3_conf("mobilenet_v3_large")
        setting = (
            (16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2), (24, 3, 72, 24, False, "RE", 1),
            (24, 5, 72, 40, True, "RE", 2), (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
            (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
            (80, 3, 184, 80, False, "HS", 1), (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
            (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1), (160, 5, 960, 160, True, "HS", 1))

        def __init__(self, num_classes: int = 1000):
            super().__init__()
            feats = [ConvBNAct(3, 16, 3, 2, act=nn.Hardswish)]
            for cin, k, exp, cout, se, act, stride in self.setting:
                feats.append(InvertedResidual(cin, exp, cout, k, stride, act=nn.Hardswish if act == "HS" else nn.ReLU,
                                              se_squeeze=_make_divisible(exp // 4, 8) if se else None))
            feats.append(ConvBNAct(160, 960, 1, act=nn.Hardswish))
            self.features = nn.Sequential(*feats)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Sequential(nn.Linear(960, 1280), nn.Hardswish(inplace=True), nn.Dropout(0.2),
                                            nn.Linear(1280, num_classes))

        def forward(self, x):
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    _CLASSES = {"AlexNet": AlexNet, "VGG16": VGG16, "ResNet": ResNet, "BasicBlock": BasicBlock,
                "Bottleneck": Bottleneck, "MobileNetV2": MobileNetV2, "MobileNetV3Large": MobileNetV3Large}
    return _CLASSES


_CLASSES: dict | None = None


@_register
def alexnet():
    return _classes()["AlexNet"]()


@_register
def vgg16():
    return _classes()["VGG16"]()


@_register
def resnet18():
    c = _classes()
    return c["ResNet"](c["BasicBlock"], (2, 2, 2, 2))


@_register
def resnet50():
    c = _classes()
    return c["ResNet"](c["Bottleneck"], (3, 4, 6, 3))


@_register
def mobilenet_v2():
    return _classes()["MobileNetV2"]()


@_register
def mobilenet_v3_large():
    return _classes()["MobileNetV3Large"]()


# ---------------------------------------------------------------------------------------------
# Transformers (accel.zoo_transformer): blocks from accel.nn, configs from the zoo
# ---------------------------------------------------------------------------------------------
FAMILIES = ("bert", "vit", "gpt", "decoder_layers")


def transformer_model(family: str, cfg, seq: int | None = None, resolution: int = 224, patch: int = 16,
                      classes: int = 1000):
    """A torch model of a :class:`accel.zoo_transformer.TransformerConfig` with the layers, in the order, of the
    zoo builder of the same ``family``: ``bert`` (:func:`~accel.zoo_transformer.build_bert`; input token ids
    (B, T)), ``vit`` (``build_vit``; images), ``gpt`` (``build_gpt``, tied LM head on the last token; token
    ids), ``decoder_layers`` (``build_decoder_layers``; hidden states (B, T, d), rotary table of ``seq``
    positions).  Prefill shapes only (no KV cache, no mask)."""
    import torch
    from torch import nn

    from accel.nn import TransformerBlock

    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    d = cfg.d_model
    positions = max(cfg.max_positions, seq or 0)

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.word = nn.Embedding(cfg.vocab, d)
            self.position = nn.Embedding(cfg.max_positions, d)
            self.token_type = nn.Embedding(cfg.token_types, d)
            self.register_buffer("pos_ids", torch.arange(cfg.max_positions), persistent=False)
            self.register_buffer("type_ids", torch.zeros(cfg.max_positions, dtype=torch.long), persistent=False)
            self.norm = nn.LayerNorm(d)
            self.layers = nn.ModuleList(TransformerBlock(cfg) for _ in range(cfg.layers))
            self.pooler = nn.Linear(d, d)

        def forward(self, ids):
            t = ids.shape[1]
            x = self.word(ids) + self.position(self.pos_ids[:t])
            x = self.norm(x + self.token_type(self.type_ids[:t]))
            for blk in self.layers:
                x = blk(x)
            return torch.tanh(self.pooler(x[:, 0]))

    class ViT(nn.Module):
        def __init__(self):
            super().__init__()
            n = (resolution // patch) ** 2
            self.conv_proj = nn.Conv2d(3, d, patch, stride=patch)
            self.class_token = nn.Parameter(torch.zeros(1, 1, d))
            self.pos_embedding = nn.Parameter(torch.zeros(1, n + 1, d))
            self.layers = nn.ModuleList(TransformerBlock(cfg) for _ in range(cfg.layers))
            self.norm = nn.LayerNorm(d)
            self.head = nn.Linear(d, classes)

        def forward(self, img):
            x = self.conv_proj(img).flatten(2).transpose(1, 2)
            x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embedding
            for blk in self.layers:
                x = blk(x)
            return self.head(self.norm(x)[:, 0])

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(cfg.vocab, d)
            self.wpe = nn.Embedding(cfg.max_positions, d)
            self.register_buffer("pos_ids", torch.arange(cfg.max_positions), persistent=False)
            self.layers = nn.ModuleList(TransformerBlock(cfg) for _ in range(cfg.layers))
            self.norm_f = nn.LayerNorm(d)
            self.lm_head = nn.Linear(d, cfg.vocab, bias=False)
            self.lm_head.weight = self.wte.weight  # tied

        def forward(self, ids):
            x = self.wte(ids) + self.wpe(self.pos_ids[:ids.shape[1]])
            for blk in self.layers:
                x = blk(x)
            return self.lm_head(self.norm_f(x)[:, -1])

    class DecoderLayers(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList(TransformerBlock(cfg, positions) for _ in range(cfg.layers))

        def forward(self, x):
            for blk in self.layers:
                x = blk(x)
            return x

    torch.manual_seed(0)
    cls = {"bert": Encoder, "vit": ViT, "gpt": GPT, "decoder_layers": DecoderLayers}[family]
    return cls().eval()


def _transformer(name: str):
    from dataclasses import replace

    from accel import zoo_transformer as zt

    family, cfg = {"bert_base": ("bert", zt.BERT_BASE), "vit_b_16": ("vit", zt.VIT_B_16), "gpt2": ("gpt", zt.GPT2),
                   "llama2_7b_layer": ("decoder_layers", replace(zt.LLAMA2_7B, layers=1))}[name]
    return transformer_model(family, cfg, seq=zt.LLAMA2_CONTEXT if family == "decoder_layers" else None)


for _name in ("bert_base", "vit_b_16", "gpt2", "llama2_7b_layer"):
    MODELS[_name] = (lambda n: lambda: _transformer(n))(_name)

# default prefill length of the token-input models (accel.zoo_transformer's defaults)
DEFAULT_SEQ = {"bert_base": 128, "gpt2": 1024, "llama2_7b_layer": 4096}


def input_spec(name: str, batch: int = 1, seq: int | None = None) -> tuple[tuple[int, ...], str]:
    """(input shape, dtype name) of zoo model ``name``: images (batch, 3, res, res) float32, token ids
    (batch, seq) int64 for bert_base / gpt2, hidden states (batch, seq, 4096) float32 for llama2_7b_layer."""
    key = _key(name)
    if key in INPUT_RESOLUTION:
        res = INPUT_RESOLUTION[key]
        return (batch, 3, res, res), "float32"
    t = seq or DEFAULT_SEQ[key]
    if key == "llama2_7b_layer":
        return (batch, t, 4096), "float32"
    return (batch, t), "int64"


def list_models() -> list[str]:
    return sorted(MODELS)


def _key(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    if key not in MODELS:
        from accel.workload import WorkloadError

        raise WorkloadError(f"unknown network {name!r}; known networks: {', '.join(list_models())}")
    return key


def build_model(name: str):
    """The network as a ``torch.nn.Module`` in eval mode (random weights)."""
    import torch

    torch.manual_seed(0)
    return MODELS[_key(name)]().eval()


def export_onnx(name: str, path: str | os.PathLike, batch: int = 1, dynamic_batch: bool = False,
                opset: int = 17, export_params: bool = True, seq: int | None = None) -> Path:
    """Export zoo network ``name`` to ``path`` (input ``"input"`` of :func:`input_spec`: (batch, 3, res, res)
    images, or (batch, ``seq``) token ids for the transformers, prefill).

    Uses the TorchScript exporter (``dynamo=False``, offline, no onnxscript needed) in eval mode with
    constant folding, which folds BatchNorm into the convolutions.  ``dynamic_batch=True`` makes the batch
    dim symbolic (``"batch"``).  Returns the path.
    """
    import torch

    from accel.nn import export_module_onnx

    key = _key(name)
    shape, dtype = input_spec(key, batch, seq)
    return export_module_onnx(build_model(key), shape, path, opset, dynamic_batch, export_params,
                              input_dtype=getattr(torch, dtype))
