"""Joint network × bitwidth × accelerator search (Auto-NBA, Fu et al. ICML 2021) on the FBNet space, with a
weight-sharing supernet trainable with CHaNAS's generalization-gap objective, on top of the accelsim
cost model.

Modules (torch is imported only by the ones that train):

* :mod:`nas.joint.space` — the FBNet space (:class:`nas.fbnet.FBNetSpace`, CIFAR setting), slots, nine operators.
* :mod:`nas.joint.precision` — :func:`~nas.joint.precision.evaluate_with_bitwidths` and the ``--bits``
  choices; the precision model itself (precision-scalable PEs, Bit-Fusion law, ``bitwidths.json``) is core:
  :mod:`accel.precision`.
* :mod:`nas.joint.hwspace` — a sweep spec (:mod:`accel.designspace`) as categorical design dimensions.
* :mod:`nas.joint.costtable` — accelsim cost of every (layer, op, bits, design), precomputed.
* :mod:`nas.joint.data` — CIFAR-10/100 binary loader, synthetic data.
* :mod:`nas.joint.quant` — fake quantization with straight-through estimators (torch).
* :mod:`nas.joint.supernet` — the weight-sharing supernet and derived networks (torch).
* :mod:`nas.joint.engine` — Gumbel-softmax helpers and the differentiable accelerator search engine.
* :mod:`nas.joint.search` — warm-up, joint search, fine-tuning, the generalization-gap loss.
* :mod:`nas.joint.export` — ONNX export with node names of the quantized layers.
* :mod:`nas.joint.pipeline` — ``accelsim joint`` end to end; :mod:`nas.joint.plots` — curves.
"""
