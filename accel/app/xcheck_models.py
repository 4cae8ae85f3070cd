"""Torch models of the cross-check (``accelsim xcheck``) networks and their ONNX export.

A network string (:func:`nas.registry.parse_network_spec`) becomes a torch module: zoo names through
:func:`accel.torch_zoo.build_model`; ``SPACE:ENCODING`` through the space's ``build_torch`` (for NB201:
``prune=prune_dead``, default False: every non-``none`` edge, as the networks are trained and run) with BatchNorm statistics randomised so BN
folding is exercised.  The small CIFAR MBConv networks are the ``mbconv_cifar`` space
(:class:`nas.mbconv.MBConvCifarSpace`); ``mbconv:`` is the OFA / CHaNAS space everywhere.  Export:
:func:`accel.nn.export_module_onnx`.  ``torch`` is imported lazily.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["module_for", "export_spec_onnx"]


def _randomise_bn(model):
    import torch

    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.num_features, generator=g))
    return model


def module_for(spec, batch: int = 1, prune_dead: bool = False):
    """(torch module in eval mode, input shape (N, C, H, W)) of a zoo or ``SPACE:ENCODING`` network (a
    string or a :class:`nas.registry.NetworkSpec`)."""
    import torch

    from accel.errors import WorkloadInputError
    from nas.registry import SPACES, NetworkSpec, parse_network_spec

    ns = spec if isinstance(spec, NetworkSpec) else parse_network_spec(spec)
    if ns.kind == "zoo":
        from accel.torch_zoo import INPUT_RESOLUTION, build_model

        res = INPUT_RESOLUTION[ns.ref]
        return build_model(ns.ref), (batch, 3, res, res)
    if ns.kind != "space":
        raise WorkloadInputError(f"{ns.label!r}: not a zoo or SPACE:ENCODING network (no torch model)")
    space = SPACES[ns.space]()
    arch = space.decode(ns.ref)
    torch.manual_seed(0)
    model = space.build_torch(arch, prune=prune_dead) if ns.space.startswith("nb201") else space.build_torch(arch)
    return _randomise_bn(model).eval(), space.input_shape(arch, batch)


def export_spec_onnx(spec, path: str | os.PathLike, opset: int = 17, prune_dead: bool = False) -> Path:
    """Export the torch model of ``spec`` (see :func:`module_for`) to ``path`` (batch 1)."""
    from accel.nn import export_module_onnx

    model, shape = module_for(spec, prune_dead=prune_dead)
    return export_module_onnx(model, shape, path, opset)
