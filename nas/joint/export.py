"""ONNX export of a derived network and the ONNX node names of its quantized layers.

The network is exported in eval mode with fake quantization off (the float graph: the precision of each
layer travels in ``bitwidths.json``) by :func:`accel.nn.export_module_onnx` (TorchScript exporter, constant
folding), which folds every BatchNorm into its convolution — so the graph imports
(:func:`accel.onnx_import.load_onnx_network`) to exactly the layers of
:meth:`nas.fbnet.FBNetSpace.build_network`.

Node names are recovered by order, not by the exporter's naming scheme: the exporter emits nodes in
execution order, so the i-th Conv/Gemm node of the graph is the i-th Conv2d/Linear module called in a
forward pass (checked against the weight initializer's shape) and the i-th Add node is the residual add
of the i-th residual block.
"""

from __future__ import annotations

from accel.errors import ExternalToolError
from pathlib import Path

import torch

from nas.joint.supernet import DerivedNet
from accel.nn import export_module_onnx, mac_layers

__all__ = ["ExportError", "export_onnx"]


class ExportError(ExternalToolError):
    """The exported graph does not line up with the network (a bug, not a user error)."""


def export_onnx(net: DerivedNet, path: str | Path, opset: int = 17) -> dict[int, list[str]]:
    """Write ``net`` (batch 1, input ``"input"``, output ``"logits"``) to ``path``; return, for each block
    index that has costed layers, the ONNX node names of its convolutions and residual add."""
    import onnx

    path = Path(path)
    res = net.space.resolution
    was = net.training
    net.eval()
    net.set_quantize(False)
    try:
        calls = mac_layers(net, torch.zeros(1, 3, res, res))  # (module name, MACs) in call order
        export_module_onnx(net, (1, 3, res, res), path, opset)
    finally:
        net.set_quantize(True)
        net.train(was)
    model = onnx.load(str(path), load_external_data=False)
    inits = {t.name: tuple(t.dims) for t in model.graph.initializer}
    mac_nodes = [n for n in model.graph.node if n.op_type in ("Conv", "Gemm")]
    add_nodes = [n for n in model.graph.node if n.op_type == "Add"]
    if len(mac_nodes) != len(calls):
        raise ExportError(f"{path}: {len(mac_nodes)} Conv/Gemm nodes for {len(calls)} conv/linear calls")
    modules = dict(net.named_modules())
    node_of: dict[str, str] = {}
    for node, (name, _) in zip(mac_nodes, calls):
        want = tuple(modules[name].weight.shape)
        got = inits.get(node.input[1])
        if got != want:
            raise ExportError(f"{path}: node {node.name!r} has weight shape {got}, module {name!r} {want}")
        node_of[name] = node.name
    residual = [i for i, b in enumerate(net.blocks) if b.residual and not b.op.is_skip]
    if len(add_nodes) != len(residual):
        raise ExportError(f"{path}: {len(add_nodes)} Add nodes for {len(residual)} residual blocks")
    out: dict[int, list[str]] = {}
    for i, block in enumerate(net.blocks):
        convs = block.quant_convs()
        names = [node_of[f"blocks.{i}.{n}"] for n, m in block.named_modules() if any(m is c for c in convs)]
        if names:
            out[i] = names
    for i, node in zip(residual, add_nodes):
        out[i].append(node.name)
    return out
