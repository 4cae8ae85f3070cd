"""accelsim: analytical DNN accelerator model (numba), loop-nest mapper and NAS front end.

The Python API (documented in the README, section "Python API")::

    import accel

    arch = accel.load_arch("eyeriss")                      # a shipped config name or a YAML path
    net = accel.get_network("resnet18", batch=1)           # zoo network (accel.import_onnx for .onnx files)
    res = accel.evaluate_network(net, arch, objective="edp")
    layer = accel.parse_layer_spec("conv K=64 C=64 P=56 Q=56 R=3 S=3")
    best = accel.search_mapping(layer, arch, objective="latency")
    sweep = accel.load_sweep("configs/sweeps/demo.yaml")   # then accel.run_sweep(sweep, [...], "out.parquet")

Names are imported on first use (``accel.<name>``), so ``import accel`` stays cheap and loads nothing from
the mapper, NAS or application layers until asked.  Errors derive from :class:`accel.AccelsimError`.
"""

from __future__ import annotations

import importlib

from accel._version import __version__

# public name -> module that defines it (layer order: core model, mapper, applications)
_API = {
    # core model
    "AccelsimError": "accel.errors", "InputError": "accel.errors", "ConfigInputError": "accel.errors",
    "WorkloadInputError": "accel.errors", "MappingError": "accel.errors", "OutputError": "accel.errors",
    "ExternalToolError": "accel.errors",
    "Arch": "accel.arch", "ConfigError": "accel.arch", "load_arch": "accel.arch", "parse_arch": "accel.arch",
    "list_configs": "accel.arch",
    "Layer": "accel.workload", "Network": "accel.workload", "NetworkBuilder": "accel.workload",
    "parse_layer_spec": "accel.workload",
    "get_network": "accel.zoo", "list_networks": "accel.zoo",
    "load_sweep": "accel.designspace", "parse_sweep": "accel.designspace", "Sweep": "accel.designspace",
    "pareto_mask": "accel.pareto",
    # mapper
    "search_mapping": "mapper.search", "NetworkEvaluator": "mapper.network", "evaluate_network": "mapper.network",
    "NetworkResult": "mapper.network",
    # applications
    "run_sweep": "accel.app.sweep",
}
_ALIASES = {"import_onnx": ("accel.onnx_import", "load_onnx_network")}

__all__ = ["__version__", *_API, *_ALIASES]


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    if name in _ALIASES:
        module, attr = _ALIASES[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'accel' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
