"""Quantized layers of the joint search against an integer reference (numpy)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nas.joint.quant import (ActQuantizer, QuantConv2d, act_qparams, mix_quantize_weight, quantize_act,  # noqa: E402
                             quantize_weight, weight_scale)


def _int_conv(q_x: np.ndarray, q_w: np.ndarray, stride: int, pad: int, groups: int, pad_value: int) -> np.ndarray:
    """Integer convolution (int64) by explicit loops over the output channels and kernel taps."""
    n, c, h, w = q_x.shape
    k, cg, r, s = q_w.shape
    xp = np.full((n, c, h + 2 * pad, w + 2 * pad), pad_value, dtype=np.int64)
    xp[:, :, pad:pad + h, pad:pad + w] = q_x
    p = (h + 2 * pad - r) // stride + 1
    q = (w + 2 * pad - s) // stride + 1
    out = np.zeros((n, k, p, q), dtype=np.int64)
    kg = k // groups
    for ko in range(k):
        g = ko // kg
        for ci in range(cg):
            for i in range(r):
                for j in range(s):
                    patch = xp[:, g * cg + ci, i:i + stride * p:stride, j:j + stride * q:stride]
                    out[:, ko] += patch * int(q_w[ko, ci, i, j])
    return out


@pytest.mark.parametrize("w_bits,a_bits,kernel,stride,groups", [(4, 4, 3, 1, 1), (8, 6, 3, 2, 2), (6, 8, 1, 1, 1),
                                                               (4, 8, 5, 1, 8)])
def test_quant_conv_matches_integer_reference(w_bits, a_bits, kernel, stride, groups):
    torch.manual_seed(0)
    conv = QuantConv2d(8, 8, kernel, stride, kernel // 2, groups=groups, w_bits=w_bits, a_bits=a_bits)
    x = torch.relu(torch.randn(2, 8, 9, 9))  # post-ReLU activations: range [0, hi], zero padding exact
    conv.train()
    conv(x)  # observe the range
    conv.eval()
    y = conv(x).detach().numpy().astype(np.float64)
    # reference: integer codes, integer conv, one rescale per output channel
    lo, hi = float(conv.act.lo), float(conv.act.hi)
    assert lo == 0.0
    sx, lo_q = act_qparams(lo, hi, a_bits)
    q_x = np.clip(np.round((np.clip(x.numpy().astype(np.float64), lo_q, lo_q + (2 ** a_bits - 1) * sx) - lo_q) / sx),
                  0, 2 ** a_bits - 1).astype(np.int64)
    w = conv.weight.detach().numpy().astype(np.float64)
    qmax = 2 ** (w_bits - 1) - 1
    sw = np.abs(w).reshape(8, -1).max(1) / qmax
    q_w = np.clip(np.round(w / sw[:, None, None, None]), -qmax, qmax).astype(np.int64)
    assert np.abs(q_w).max() <= qmax and q_x.max() <= 2 ** a_bits - 1
    acc = _int_conv(q_x, q_w, stride, kernel // 2, groups, 0)
    ref = acc * (sx * sw)[None, :, None, None]
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=2e-5, atol=2e-5 * np.abs(ref).max())
    # and the fake-quantized float path is genuinely quantized: few distinct weight values per channel
    wq = quantize_weight(conv.weight, w_bits).detach().numpy()
    assert max(len(np.unique(wq[c])) for c in range(8)) <= 2 * qmax + 1


def test_signed_activation_range_keeps_zero_exact():
    torch.manual_seed(1)
    x = torch.randn(4, 3, 5, 5)
    for bits in (4, 6, 8):
        scale, lo = act_qparams(float(x.min()), float(x.max()), bits)
        q = quantize_act(x, float(x.min()), float(x.max()), bits)
        codes = (q - lo) / scale
        assert torch.allclose(codes, codes.round(), atol=1e-4)
        assert len(torch.unique(q)) <= 2 ** bits
        assert float(quantize_act(torch.zeros(1), float(x.min()), float(x.max()), bits)) == pytest.approx(0.0, abs=1e-6)


def test_straight_through_gradients():
    w = torch.randn(6, 4, 3, 3, requires_grad=True)
    g = torch.randn(6, 4, 3, 3)
    (quantize_weight(w, 4) * g).sum().backward()
    assert torch.equal(w.grad, g)  # identity STE
    x = torch.linspace(-2, 2, 41, requires_grad=True)
    quantize_act(x, -1.0, 1.0, 4).sum().backward()
    scale, lo = act_qparams(-1.0, 1.0, 4)  # the range shifted so that 0 is a code
    inside = (x.detach() >= lo) & (x.detach() <= lo + 15 * scale)
    assert 15 <= int(inside.sum()) < 41
    assert torch.all(x.grad[inside] == 1) and torch.all(x.grad[~inside] == 0)  # clipped STE
    # full precision passes through unchanged
    assert torch.equal(quantize_weight(w, 16), w)


def test_soft_mixture_is_weighted_sum_and_differentiable():
    torch.manual_seed(2)
    w = torch.randn(5, 3, 1, 1)
    logits = torch.zeros(3, requires_grad=True)
    p = torch.softmax(logits + torch.tensor([0.5, -0.2, 0.1]), 0)
    mix = mix_quantize_weight(w, (4, 8, 16), p)
    ref = p[0] * quantize_weight(w, 4) + p[1] * quantize_weight(w, 8) + p[2] * w
    assert torch.allclose(mix, ref)
    mix.pow(2).sum().backward()
    assert logits.grad.abs().sum() > 0
    aq = ActQuantizer()
    aq.train()
    x = torch.randn(2, 3, 4, 4)
    y = aq(x, (4, 8), torch.tensor([0.25, 0.75]))
    aq.eval()
    assert torch.allclose(y, 0.25 * aq(x, 4) + 0.75 * aq(x, 8))


def test_weight_scale_per_channel():
    w = torch.tensor([[1.0, -3.0], [0.5, 0.25]]).reshape(2, 2, 1, 1)
    s = weight_scale(w, 4).reshape(-1)
    assert torch.allclose(s, torch.tensor([3.0 / 7, 0.5 / 7]))
