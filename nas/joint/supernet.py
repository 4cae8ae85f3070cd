"""Weight-sharing FBNet supernet with per-layer bitwidths, and the standalone network it derives (torch).

Weight sharing (once-for-all style, Cai et al. ICLR 2020): each searchable layer owns *one* weight bank
sized for the largest candidate — a 1×1 expansion W1 (6·C_in × C_in), a 5×5 depthwise W2 (6·C_in) and a
1×1 projection W3 (C_out × 6·C_in) — and every operator is a slice of it:

* expansion e uses the first e·C_in channels of W1 / W2 / W3 (elastic width);
* a 3×3 kernel is the centre 3×3 of the 5×5 kernel through a learned 9×9 kernel-transformation matrix
  shared by the channels (OFA's elastic kernel, also CHaNAS Sec. 3.3);
* a group-2 1×1 conv uses the two diagonal blocks of the dense weight (each group's slice);
* ``skip`` is the identity, or its own 1×1 projection when the shapes change.

BatchNorm is private per operator (switchable BN, Yu et al. ICLR 2019) so running statistics stay exact
for every path without recalibration.  Every conv of a searchable layer quantizes its weights and input
activations (:mod:`nas.joint.quant`); stem, head and classifier stay full precision (costed at the
accelerator's own 16 bits).

A forward pass follows one path (single-path one-shot, Guo et al. ECCV 2020): ``ops[l]`` picks the
operator of layer l, ``bits[l]`` its bitwidth as

* an ``int`` (one bitwidth choice),
* a ``(int, gate)`` pair: one bitwidth whose quantized weights are multiplied by ``gate`` (a scalar that
  is 1 in the forward pass and carries the straight-through gradient to the bitwidth logits), or
* a probability vector over the bitwidth choices (soft mixture, one convolution).

``op_gates[l]`` (optional) multiplies layer l's output the same way for the operator logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nas.joint.precision import BitPair
from nas.joint.quant import ActQuantizer, QuantConv2d, mix_quantize_weight, quantize_weight
from nas.joint.space import MAX_EXPANSION, OPS, FBNetSpace, OpSpec, SlotSpec
from accel.nn import ChannelShuffle, ConvBNAct, InvertedResidual

__all__ = ["SearchableLayer", "FBNetSupernet", "DerivedBlock", "DerivedNet", "derive_network"]


def _block_diag_1x1(w: torch.Tensor, c_out: int, c_in: int) -> torch.Tensor:
    """Group-2 1×1 weight (c_out, c_in/2, 1, 1) from the dense (≥c_out, ≥c_in, 1, 1) bank: group i gets
    rows [i·c_out/2, (i+1)·c_out/2) × columns [i·c_in/2, (i+1)·c_in/2)."""
    ho, hi = c_out // 2, c_in // 2
    return torch.cat([w[:ho, :hi], w[ho:c_out, hi:c_in]], dim=0)


class SearchableLayer(nn.Module):
    """One FBNet searchable layer: the shared weight bank of its nine operators (module docstring)."""

    def __init__(self, slot: SlotSpec, bits: tuple[BitPair, ...]):
        super().__init__()
        self.slot = slot
        self.w_bits = tuple(b[0] for b in bits)
        self.a_bits = tuple(b[1] for b in bits)
        cin, cout = slot.c_in, slot.c_out
        mid = MAX_EXPANSION * cin
        self.w1 = nn.Parameter(torch.empty(mid, cin, 1, 1))
        self.w2 = nn.Parameter(torch.empty(mid, 1, 5, 5))
        self.w3 = nn.Parameter(torch.empty(cout, mid, 1, 1))
        self.ktrans = nn.Parameter(torch.eye(9))
        for w in (self.w1, self.w2, self.w3):
            nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
        self.bn = nn.ModuleDict()
        self.aq = nn.ModuleDict()
        for op in OPS:
            if op.is_skip:
                continue
            m = op.expansion * cin
            self.bn[op.name] = nn.ModuleList([nn.BatchNorm2d(m), nn.BatchNorm2d(m), nn.BatchNorm2d(cout)])
            self.aq[op.name] = nn.ModuleList([ActQuantizer() for _ in range(3)])
        self.shuffle = ChannelShuffle(2)
        self.needs_proj = not slot.residual(OPS[-1])
        if self.needs_proj:
            self.wp = nn.Parameter(torch.empty(cout, cin, 1, 1))
            nn.init.kaiming_normal_(self.wp, mode="fan_out", nonlinearity="relu")
            self.bn_p = nn.BatchNorm2d(cout)
            self.aq_p = ActQuantizer()

    # -- weights of one operator ----------------------------------------------------------------------
    def op_weights(self, op: OpSpec) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(W1, W2, W3) of ``op`` as its convs use them (grouped / depthwise shapes)."""
        cin, cout = self.slot.c_in, self.slot.c_out
        m = op.expansion * cin
        if op.groups == 2:
            w1 = _block_diag_1x1(self.w1, m, cin)
            w3 = _block_diag_1x1(self.w3, cout, m)
        else:
            w1 = self.w1[:m]
            w3 = self.w3[:, :m]
        w2 = self.w2[:m]
        if op.kernel == 3:  # OFA elastic kernel: centre 3x3 through the shared 9x9 transform
            w2 = (w2[:, :, 1:4, 1:4].reshape(m, 9) @ self.ktrans).reshape(m, 1, 3, 3)
        return w1, w2, w3

    def _qw(self, w: torch.Tensor, bits) -> torch.Tensor:
        if isinstance(bits, torch.Tensor):
            return mix_quantize_weight(w, self.w_bits, bits)
        idx, gate = bits if isinstance(bits, tuple) else (bits, None)
        q = quantize_weight(w, self.w_bits[idx])
        return q if gate is None else q * gate

    def _qa(self, quant: ActQuantizer, x: torch.Tensor, bits) -> torch.Tensor:
        if isinstance(bits, torch.Tensor):
            return quant(x, self.a_bits, bits)
        idx = bits[0] if isinstance(bits, tuple) else bits
        return quant(x, self.a_bits[idx])

    def forward(self, x: torch.Tensor, op_index: int, bits) -> torch.Tensor:
        op = OPS[op_index]
        s = self.slot
        if op.is_skip:
            if not self.needs_proj:
                return x
            y = F.conv2d(self._qa(self.aq_p, x, bits), self._qw(self.wp, bits), stride=s.stride)
            return F.relu(self.bn_p(y))
        w1, w2, w3 = self.op_weights(op)
        bn, aq = self.bn[op.name], self.aq[op.name]
        m = op.expansion * s.c_in
        y = F.relu(bn[0](F.conv2d(self._qa(aq[0], x, bits), self._qw(w1, bits), groups=op.groups)))
        if op.groups == 2:
            y = self.shuffle(y)
        y = F.relu(bn[1](F.conv2d(self._qa(aq[1], y, bits), self._qw(w2, bits), stride=s.stride,
                                  padding=op.kernel // 2, groups=m)))
        y = bn[2](F.conv2d(self._qa(aq[2], y, bits), self._qw(w3, bits), groups=op.groups))
        if s.residual(op):
            y = y + x
        return y


class FBNetSupernet(nn.Module):
    """The FBNet supernet: full-precision stem, searchable layers, full-precision head and classifier."""

    def __init__(self, space: FBNetSpace, bits: tuple[BitPair, ...]):
        super().__init__()
        self.space = space
        self.bits = tuple(bits)
        self.stem = ConvBNAct(3, space.stem_channels, 3, space.strides[0])
        self.layers = nn.ModuleList([SearchableLayer(slot, self.bits) for slot in space.slots])
        self.head = ConvBNAct(space.slots[-1].c_out, space.head_channels, 1)
        self.fc = nn.Linear(space.head_channels, space.num_classes)
        nn.init.normal_(self.fc.weight, std=1e-3)  # near-zero logits at the start, as Auto-NBA initialises it
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor, ops, bits, op_gates=None) -> torch.Tensor:
        """Logits (N, classes) of the path ``ops`` at ``bits`` (see the module docstring)."""
        y = self.stem(x)
        for l, layer in enumerate(self.layers):
            y = layer(y, int(ops[l]), bits[l])
            if op_gates is not None:
                y = y * op_gates[l]
        y = self.head(y).mean(dim=(2, 3))
        return self.fc(y)


# ---------------------------------------------------------------------------------------------
# The derived (standalone) network
# ---------------------------------------------------------------------------------------------
class DerivedBlock(nn.Module):
    """One chosen FBNet block with fixed (w, a) bits: :class:`accel.nn.InvertedResidual` (``body``) built
    from quantized convs, or the skip op (identity, or a quantized 1×1 ``proj`` + BN + ReLU)."""

    def __init__(self, slot: SlotSpec, op: OpSpec, w_bits: int, a_bits: int):
        super().__init__()
        self.slot, self.op = slot, op
        self.w_bits, self.a_bits = int(w_bits), int(a_bits)
        self.residual = slot.residual(op)
        cin, cout = slot.c_in, slot.c_out
        wb, ab = self.w_bits, self.a_bits

        def qconv(c_in: int, c_out: int, k: int, stride: int, padding: int, groups: int) -> QuantConv2d:
            return QuantConv2d(c_in, c_out, k, stride, padding, groups=groups, w_bits=wb, a_bits=ab)

        self.body = self.proj = self.bn_p = None
        if op.is_skip:
            if not self.residual:
                self.proj = qconv(cin, cout, 1, slot.stride, 0, 1)
                self.bn_p = nn.BatchNorm2d(cout)
            return
        self.body = InvertedResidual(cin, op.expansion * cin, cout, op.kernel, slot.stride, groups=op.groups,
                                     always_expand=True, conv=qconv)

    def quant_convs(self) -> list[QuantConv2d]:
        """The block's quantized convolutions in call order."""
        if self.body is not None:
            return self.body.convs()
        return [self.proj] if self.proj is not None else []

    def batch_norms(self) -> list[nn.BatchNorm2d]:
        """The BatchNorm after each of :meth:`quant_convs`, in the same order."""
        if self.body is not None:
            return [m[1] for m in self.body.block if isinstance(m, ConvBNAct)]
        return [self.bn_p] if self.bn_p is not None else []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.body is not None:
            return self.body(x)
        return x if self.proj is None else F.relu(self.bn_p(self.proj(x)))


class DerivedNet(nn.Module):
    """A standalone network of the space: ``ops[l]`` and ``bits[l]`` = (w, a) per searchable layer."""

    def __init__(self, space: FBNetSpace, ops: list[int], bits: list[BitPair]):
        super().__init__()
        self.space = space
        self.ops = [int(o) for o in ops]
        self.bits = [tuple(map(int, b)) for b in bits]
        self.stem = ConvBNAct(3, space.stem_channels, 3, space.strides[0])
        self.blocks = nn.ModuleList([DerivedBlock(s, OPS[o], b[0], b[1]) for s, o, b in zip(space.slots, self.ops, self.bits)])
        self.head = ConvBNAct(space.slots[-1].c_out, space.head_channels, 1)
        self.fc = nn.Linear(space.head_channels, space.num_classes)

    def set_quantize(self, on: bool) -> None:
        """Fake quantization on (training / accuracy) or off (ONNX export of the float graph)."""
        for m in self.modules():
            if isinstance(m, QuantConv2d):
                m.quantize = on

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.stem(x)
        for b in self.blocks:
            y = b(y)
        y = self.head(y)
        y = torch.flatten(F.adaptive_avg_pool2d(y, 1), 1)
        return self.fc(y)


def _copy_bn(dst: nn.BatchNorm2d, src: nn.BatchNorm2d) -> None:
    dst.load_state_dict(src.state_dict())


def _copy_quant(dst: QuantConv2d, weight: torch.Tensor, src_quant: ActQuantizer) -> None:
    with torch.no_grad():
        dst.weight.copy_(weight)
    dst.act.load_state_dict(src_quant.state_dict())


def derive_network(supernet: FBNetSupernet, ops: list[int], bit_index: list[int]) -> DerivedNet:
    """The standalone :class:`DerivedNet` of one path, inheriting the supernet's weights, BatchNorm
    statistics and activation ranges (its output equals the supernet's on that path in eval mode)."""
    bits = [supernet.bits[b] for b in bit_index]
    net = DerivedNet(supernet.space, ops, bits)
    net.stem.load_state_dict(supernet.stem.state_dict())
    net.head.load_state_dict(supernet.head.state_dict())
    net.fc.load_state_dict(supernet.fc.state_dict())
    for layer, block, o in zip(supernet.layers, net.blocks, ops):
        op = OPS[int(o)]
        if op.is_skip:
            weights, quants, bns = ([layer.wp.detach()], [layer.aq_p], [layer.bn_p]) if block.proj is not None else ([], [], [])
        else:
            weights = [w.detach() for w in layer.op_weights(op)]
            quants, bns = list(layer.aq[op.name]), list(layer.bn[op.name])
        for conv, w, q in zip(block.quant_convs(), weights, quants):
            _copy_quant(conv, w, q)
        for dst, src in zip(block.batch_norms(), bns):
            _copy_bn(dst, src)
    return net

