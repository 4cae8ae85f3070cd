"""The FBNet search space as the joint search sees it — :class:`nas.fbnet.FBNetSpace` (the one FBNet space
class; :meth:`~nas.fbnet.FBNetSpace.cifar` is Auto-NBA's CIFAR setting), its per-layer slots
(:class:`~nas.fbnet.SlotSpec`) and the nine candidate blocks as :class:`~nas.fbnet.OpSpec` (``OPS``: the
joint search indexes blocks by position in this tuple).  Names are re-exported here for the joint modules.
"""

from __future__ import annotations

from nas.fbnet import CIFAR_HEAD, CIFAR_STRIDES, IMAGENET_STRIDES, OP_SPECS, FBNetSpace, OpSpec, SlotSpec

__all__ = ["OPS", "OpSpec", "SlotSpec", "FBNetSpace", "CIFAR_STRIDES", "CIFAR_HEAD", "IMAGENET_STRIDES",
           "MAX_EXPANSION", "MAX_KERNEL"]

OPS: tuple[OpSpec, ...] = OP_SPECS
MAX_EXPANSION = max(o.expansion for o in OPS)
MAX_KERNEL = max(o.kernel for o in OPS)
