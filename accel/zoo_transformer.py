"""Transformer and LLM workloads of the zoo, with the exact published shapes.

===================  ==========================================================================================
zoo name             model (source of the shapes)
===================  ==========================================================================================
``bert_base``        BERT-base (Devlin et al., NAACL 2019, Sec. 3: L=12, H=768, A=12, FFN 4H; vocabulary
                     30,522, 512 positions, 2 token types; HF ``bert-base-uncased``), post-LayerNorm encoder
                     with the pooler; ``seq`` tokens (default 128)
``vit_b_16``         ViT-B/16 (Dosovitskiy et al., ICLR 2021, Table 1: 12 layers, D=768, MLP 3072, 12 heads;
                     ``torchvision.models.vit_b_16``): 16×16/16 patch conv, class token, 197 tokens at 224²,
                     pre-LN encoder, final LayerNorm, 1000-way head on the class token
``gpt2``             GPT-2 small (Radford et al. 2019; OpenAI's ``124M`` checkpoint = HF ``gpt2``: 12 layers,
                     d=768, 12 heads, FFN 3072, vocabulary 50,257, 1,024 positions, tied LM head), pre-LN
                     decoder with the final LayerNorm and the LM head on the last token
``llama2_7b_layer``  one Llama-2-7B decoder layer (Touvron et al. 2023, Table 1 and Sec. 2.2; HF
                     ``Llama-2-7b-hf`` config: d=4096, 32 heads of 128, SwiGLU FFN 11,008, RMSNorm, rotary
                     embeddings, no biases)
===================  ==========================================================================================

Options (the same names in :func:`accel.zoo.get_network`, ``accelsim eval --phase/--seq/--context`` and the
network string form ``gpt2?phase=decode&context=1024`` of :func:`nas.registry.resolve_network`):

* ``phase``: ``prefill`` (default; the whole prompt of ``seq`` tokens in one pass) or ``decode`` (decoders
  only: one new token per sequence attending to a KV cache of ``context`` tokens).
* ``seq``: prompt length of the prefill phase (BERT, GPT-2, Llama; ViT's 197 tokens follow from the image).
* ``context``: KV-cache length of the decode phase, the new token's own key and value included, so QKᵀ is
  (1 × 128) @ (128 × ``context``) per head.  Defaults: each model's context window (GPT-2 1,024, Llama-2 4,096).

Conventions (on top of :mod:`accel.zoo`'s: activations fused into their producer, reshapes free):

* Linear layers are ``fc`` on (batch, tokens, features): N = batch, P = tokens, C = in, K = out.  Biases are free.
* Attention is two batched ``matmul`` layers per block with G = batch × heads: QKᵀ (P = query tokens, C = head
  dim, K = key tokens) and AV (P = query tokens, C = key tokens, K = head dim).  Their second operand — K and V,
  i.e. the KV cache in decode — sits in the *weights* slot: it does not depend on the query rows, is re-read
  per query tile, and in decode it streams from DRAM like a weight matrix.  The batch lives in G, so every
  sequence has its own cache (build at the batch you want; :meth:`Network.with_batch` would share it).
* Per attention: a unary ``mul`` (the 1/√d_head scale on the scores) and a ``softmax`` (:data:`OPS_PER_ELEMENT`).
  The causal mask is not costed and prefill computes the full S×S score matrix (no causal block skipping).
* Norms are ``layernorm`` / ``rmsnorm`` layers, rotary embedding one ``rope`` layer each on Q and K, residual
  connections binary ``add`` layers, the SwiGLU gate a binary ``mul``; GELU and SiLU are fused into the
  ``fc`` that produces their input (as ReLU in the CNNs and as :mod:`accel.onnx_import` does with ``fuse``).
* Embedding lookups are free (gathers); learned position / token-type embeddings are added by unary ``add``
  layers (constants in the exported ONNX graph).  GPT-2's LM head computes the logits of the last token only
  (what generation needs).

Reference numbers (batch 1), checked by ``tests/test_transformers.py``:

=====================================  ==============  =============  ===========================================
network                                MACs            parameters     published
=====================================  ==============  =============  ===========================================
bert_base, seq 128                     11.17 G         109,482,240    110M params (Devlin et al. 2019);
                                                                      22.5 GFLOPs = 11.25 GMACs at 128 tokens
                                                                      (Jiao et al., TinyBERT, 2020, Table 1)
vit_b_16, 224²                         17.56 G         86,567,656     86M (Dosovitskiy et al. 2021, Table 1);
                                                                      17.56 "GFLOPS" (torchvision, = GMACs)
gpt2, prefill 1024                     106.3 G         124,439,808    124M (OpenAI checkpoint name; HF ``gpt2``)
llama2_7b_layer, per token (decode)    202.4 M + 2·d·L 202,383,360    6,738,415,616 for the 32-layer model
                                                                      (HF ``Llama-2-7b-hf``) = 32 layers +
                                                                      2 × 32,000 × 4,096 embeddings + 4,096
=====================================  ==============  =============  ===========================================
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from accel.workload import Network, NetworkBuilder, Tensor, WorkloadError

__all__ = ["CONFIGS", "OPTION_TYPES", "PHASES", "TRANSFORMERS", "TransformerConfig", "bert_base", "build_bert",
           "build_decoder_layers", "build_gpt", "build_vit", "count_parameters", "gpt2", "llama2_7b_layer",
           "parameter_count", "vit_b_16"]

PHASES = ("prefill", "decode")
OPTION_TYPES: dict[str, type] = {"phase": str, "seq": int, "context": int}  # the options' one spelling everywhere


@dataclass(frozen=True)
class TransformerConfig:
    """Published hyper-parameters of one model (see the module docstring for the sources)."""

    layers: int
    d_model: int
    heads: int
    d_ff: int
    norm: str  # "layernorm" | "rmsnorm"
    pre_norm: bool  # x + f(norm(x)) (GPT-2, ViT, Llama) or norm(x + f(x)) (BERT)
    ffn: str  # "gelu" (fc1 → GELU → fc2) | "swiglu" (down(silu(gate(x)) * up(x)))
    fused_qkv: bool  # one 3d-wide projection (GPT-2 c_attn, ViT in_proj) or three (BERT, Llama)
    rope: bool
    bias: bool
    vocab: int = 0
    max_positions: int = 0  # learned position embeddings (0: none)
    token_types: int = 0

    @property
    def head_dim(self) -> int:
        return self.d_model // self.heads


BERT_BASE = TransformerConfig(layers=12, d_model=768, heads=12, d_ff=3072, norm="layernorm", pre_norm=False,
                              ffn="gelu", fused_qkv=False, rope=False, bias=True, vocab=30522, max_positions=512,
                              token_types=2)
VIT_B_16 = TransformerConfig(layers=12, d_model=768, heads=12, d_ff=3072, norm="layernorm", pre_norm=True,
                             ffn="gelu", fused_qkv=True, rope=False, bias=True)
GPT2 = TransformerConfig(layers=12, d_model=768, heads=12, d_ff=3072, norm="layernorm", pre_norm=True, ffn="gelu",
                         fused_qkv=True, rope=False, bias=True, vocab=50257, max_positions=1024)
LLAMA2_7B = TransformerConfig(layers=32, d_model=4096, heads=32, d_ff=11008, norm="rmsnorm", pre_norm=True,
                              ffn="swiglu", fused_qkv=False, rope=True, bias=False, vocab=32000)
LLAMA2_CONTEXT = 4096  # Touvron et al. 2023, Table 1

CONFIGS = {"bert_base": BERT_BASE, "vit_b_16": VIT_B_16, "gpt2": GPT2, "llama2_7b_layer": LLAMA2_7B}


# ---------------------------------------------------------------------------------------------
# Blocks
# ---------------------------------------------------------------------------------------------
def attention(b: NetworkBuilder, x: Tensor, cfg: TransformerConfig, name: str, kv_len: int | None = None) -> Tensor:
    """Multi-head self-attention on x (B, T, D) → (B, T, D).  ``kv_len``: keys/values attended (default T;
    decode: the KV-cache length, the cache is read as the matmuls' weights operand)."""
    bsz, t, d = x.shape
    h, dh = cfg.heads, cfg.head_dim
    kv = t if kv_len is None else kv_len
    if cfg.fused_qkv:
        qkv = b.linear(x, 3 * d, name=f"{name}.qkv")
        q = k = v = Tensor(qkv.producer, (bsz, t, d), qkv.producers)  # free split
    else:
        q = b.linear(x, d, name=f"{name}.q")
        k = b.linear(x, d, name=f"{name}.k")
        v = b.linear(x, d, name=f"{name}.v")
    q = b.permute(b.reshape(q, bsz, t, h, dh), 0, 2, 1, 3)  # (B, H, T, dh)
    k = b.permute(b.reshape(k, bsz, t, h, dh), 0, 2, 1, 3)
    v = b.permute(b.reshape(v, bsz, t, h, dh), 0, 2, 1, 3)
    if cfg.rope:
        q = b.eltwise("rope", q, name=f"{name}.rope_q")
        k = b.eltwise("rope", k, name=f"{name}.rope_k")
    # the cache: this step's keys/values appended to kv - t earlier ones (free; their producers are this step's)
    k_t = Tensor(k.producer, (bsz, h, dh, kv), k.producers)
    v = Tensor(v.producer, (bsz, h, kv, dh), v.producers)
    s = b.matmul(q, k_t, name=f"{name}.scores")  # (B, H, T, kv)
    s = b.eltwise("mul", s, name=f"{name}.scale")
    p = b.eltwise("softmax", s, name=f"{name}.softmax")
    o = b.matmul(p, v, name=f"{name}.context")  # (B, H, T, dh)
    o = b.reshape(b.permute(o, 0, 2, 1, 3), bsz, t, d)
    return b.linear(o, d, name=f"{name}.o")


def feed_forward(b: NetworkBuilder, x: Tensor, cfg: TransformerConfig, name: str) -> Tensor:
    """fc1 (GELU fused) → fc2, or SwiGLU: down(silu(gate(x)) · up(x)) with SiLU fused into gate."""
    d = x.shape[-1]
    if cfg.ffn == "gelu":
        return b.linear(b.linear(x, cfg.d_ff, name=f"{name}.fc1"), d, name=f"{name}.fc2")
    g = b.linear(x, cfg.d_ff, name=f"{name}.gate")
    u = b.linear(x, cfg.d_ff, name=f"{name}.up")
    return b.linear(b.eltwise("mul", g, u, name=f"{name}.gate_mul"), d, name=f"{name}.down")


def block(b: NetworkBuilder, x: Tensor, cfg: TransformerConfig, name: str, kv_len: int | None = None) -> Tensor:
    """One encoder / decoder block, pre- or post-norm (:class:`TransformerConfig`)."""
    if cfg.pre_norm:
        x = b.add(x, attention(b, b.eltwise(cfg.norm, x, name=f"{name}.norm1"), cfg, f"{name}.attn", kv_len),
                  name=f"{name}.add1")
        return b.add(x, feed_forward(b, b.eltwise(cfg.norm, x, name=f"{name}.norm2"), cfg, f"{name}.mlp"),
                     name=f"{name}.add2")
    x = b.eltwise(cfg.norm, b.add(x, attention(b, x, cfg, f"{name}.attn", kv_len), name=f"{name}.add1"),
                  name=f"{name}.norm1")
    return b.eltwise(cfg.norm, b.add(x, feed_forward(b, x, cfg, f"{name}.mlp"), name=f"{name}.add2"),
                     name=f"{name}.norm2")


# ---------------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------------
def _check_int(net: str, what: str, v, hi: int | None) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1 or (hi is not None and v > hi):
        rule = f"from 1 to {hi:,}" if hi is not None else ">= 1"
        raise WorkloadError(f"{net}: {what} must be an integer {rule}, got {v!r}")
    return v


def _tokens(net: str, batch: int, phase: str, seq: int | None, context: int | None, default: int,
            limit: int | None) -> tuple[int, int | None]:
    """(query tokens T, KV length or None) of a decoder for ``phase``; refuses options of the other phase."""
    _check_int(net, "batch", batch, None)
    if phase not in PHASES:
        raise WorkloadError(f"{net}: phase must be one of {', '.join(PHASES)}, got {phase!r}")
    if phase == "prefill":
        if context is not None:
            raise WorkloadError(f"{net}: context (the KV-cache length) applies to phase=decode; prefill takes seq")
        return _check_int(net, "seq", default if seq is None else seq, limit), None
    if seq is not None:
        raise WorkloadError(f"{net}: seq (the prompt length) applies to phase=prefill; decode takes context")
    return 1, _check_int(net, "context", default if context is None else context, limit)


# ---------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------
def build_bert(name: str, cfg: TransformerConfig, batch: int, seq: int) -> Network:
    """A BERT-style encoder of ``cfg`` on ``seq`` tokens: embeddings (+ position, + token type, norm), post-norm
    blocks, pooler (fc on the first token, tanh fused)."""
    b = NetworkBuilder(name)
    x = b.input(batch, seq, cfg.d_model)  # the word-embedding gather's output
    x = b.eltwise("add", x, name="embeddings.add_position")
    x = b.eltwise("add", x, name="embeddings.add_token_type")
    x = b.eltwise(cfg.norm, x, name="embeddings.norm")
    for i in range(cfg.layers):
        x = block(b, x, cfg, f"layers.{i}")
    b.linear(Tensor(x.producer, (batch, cfg.d_model), x.producers), cfg.d_model, name="pooler")
    return b.build()


def build_vit(name: str, cfg: TransformerConfig, batch: int, resolution: int, patch: int = 16,
              classes: int = 1000) -> Network:
    """A ViT of ``cfg``: patch conv, class token (free concat), + position embedding, pre-norm blocks, final
    norm, head on the class token."""
    if resolution < patch or resolution % patch:
        raise WorkloadError(f"{name}: resolution must be a positive multiple of the {patch}-pixel patch, "
                            f"got {resolution}")
    b = NetworkBuilder(name)
    x = b.input(batch, 3, resolution, resolution)
    x = b.conv(x, cfg.d_model, kernel=patch, stride=patch, name="conv_proj")
    n = x.shape[2] * x.shape[3]
    x = b.permute(b.reshape(x, batch, cfg.d_model, n), 0, 2, 1)
    x = Tensor(x.producer, (batch, n + 1, cfg.d_model), x.producers)  # class token prepended (free concat)
    x = b.eltwise("add", x, name="encoder.add_position")
    for i in range(cfg.layers):
        x = block(b, x, cfg, f"layers.{i}")
    x = b.eltwise(cfg.norm, x, name="encoder.norm")
    b.linear(Tensor(x.producer, (batch, cfg.d_model), x.producers), classes, name="head")
    return b.build()


def build_gpt(name: str, cfg: TransformerConfig, batch: int, tokens: int, kv_len: int | None) -> Network:
    """A GPT-2-style decoder of ``cfg``: + position embedding, pre-norm blocks, final norm, LM head on the last
    token.  ``tokens`` new tokens per sequence, attending ``kv_len`` keys (None: ``tokens``, i.e. prefill)."""
    b = NetworkBuilder(name)
    x = b.input(batch, tokens, cfg.d_model)
    x = b.eltwise("add", x, name="add_position")
    for i in range(cfg.layers):
        x = block(b, x, cfg, f"layers.{i}", kv_len)
    x = b.eltwise(cfg.norm, x, name="norm_f")
    b.linear(Tensor(x.producer, (batch, cfg.d_model), x.producers), cfg.vocab, name="lm_head")
    return b.build()


def build_decoder_layers(name: str, cfg: TransformerConfig, batch: int, tokens: int, kv_len: int | None) -> Network:
    """``cfg.layers`` decoder blocks alone (no embeddings, no head), as the Llama layer."""
    b = NetworkBuilder(name)
    x = b.input(batch, tokens, cfg.d_model)
    for i in range(cfg.layers):
        x = block(b, x, cfg, "layer" if cfg.layers == 1 else f"layers.{i}", kv_len)
    return b.build()


def _label(net: str, tokens: int, kv_len: int | None) -> str:
    """The canonical network string (options sorted, as :func:`nas.registry.parse_network_spec` writes them)."""
    return f"{net}?phase=prefill&seq={tokens}" if kv_len is None else f"{net}?context={kv_len}&phase=decode"


def bert_base(batch: int = 1, seq: int = 128, phase: str = "prefill") -> Network:
    """BERT-base encoder (module docstring) on ``seq`` tokens (default 128, at most 512): embeddings, 12 post-LN
    blocks, pooler.  An encoder has no decode phase."""
    if phase != "prefill":
        raise WorkloadError(f"bert_base: an encoder has only phase=prefill, got phase={phase!r}")
    t, _ = _tokens("bert_base", batch, phase, seq, None, 128, BERT_BASE.max_positions)
    return build_bert(f"bert_base?seq={t}", BERT_BASE, batch, t)


def vit_b_16(batch: int = 1, resolution: int = 224) -> Network:
    """ViT-B/16 (module docstring): 197 tokens at 224²."""
    _check_int("vit_b_16", "batch", batch, None)
    return build_vit("vit_b_16", VIT_B_16, batch, resolution)


def gpt2(batch: int = 1, phase: str = "prefill", seq: int | None = None, context: int | None = None) -> Network:
    """GPT-2 small (module docstring).  ``prefill``: ``seq`` tokens (default and at most 1,024); ``decode``: one
    token, KV cache ``context`` (default and at most 1,024)."""
    t, kv = _tokens("gpt2", batch, phase, seq, context, GPT2.max_positions, GPT2.max_positions)
    return build_gpt(_label("gpt2", t, kv), GPT2, batch, t, kv)


def llama2_7b_layer(batch: int = 1, phase: str = "prefill", seq: int | None = None,
                    context: int | None = None) -> Network:
    """One Llama-2-7B decoder layer (module docstring): RMSNorm, Q/K/V, rotary on Q and K, attention, O,
    residual, RMSNorm, SwiGLU (gate, up, gate·up, down), residual.  ``prefill``: ``seq`` tokens (default 4,096);
    ``decode``: one token, KV cache ``context`` (default 4,096)."""
    t, kv = _tokens("llama2_7b_layer", batch, phase, seq, context, LLAMA2_CONTEXT, None)
    return build_decoder_layers(_label("llama2_7b_layer", t, kv), replace(LLAMA2_7B, layers=1), batch, t, kv)


TRANSFORMERS = {"bert_base": bert_base, "vit_b_16": vit_b_16, "gpt2": gpt2, "llama2_7b_layer": llama2_7b_layer}


def parameter_count(name: str, net: Network | None = None) -> int:
    """Parameters of zoo transformer ``name``: weights and biases of its fc / conv layers (the tied LM head of
    GPT-2 once), γ (and β) of every norm, and the embedding tables and class token of the config — the count
    ``sum(p.numel() for p in model.parameters())`` of the published checkpoint."""
    cfg = CONFIGS[name]
    net = net or TRANSFORMERS[name]()
    return count_parameters(cfg, net, embeddings=name != "llama2_7b_layer", tied_head=name == "gpt2",
                            vit=name == "vit_b_16")


def count_parameters(cfg: TransformerConfig, net: Network, embeddings: bool = True, tied_head: bool = False,
                     vit: bool = False) -> int:
    """:func:`parameter_count` for a network built from ``cfg`` (``tied_head``: the ``lm_head`` layer shares
    the token embedding; ``vit``: class token and position embedding of the patches)."""
    total = 0
    for layer in net.layers:
        if layer.op in ("fc", "conv"):
            if tied_head and layer.name == "lm_head":
                continue  # tied to the token embedding
            total += layer.G * layer.K * layer.C * layer.R * layer.S + (layer.G * layer.K if cfg.bias else 0)
        elif layer.op == "layernorm":
            total += 2 * layer.P  # γ, β over the feature dim (P of a (B, T, D) element-wise layer)
        elif layer.op == "rmsnorm":
            total += layer.P
    d = cfg.d_model
    if embeddings:
        total += cfg.vocab * d + cfg.max_positions * d + cfg.token_types * d
    if vit:
        conv = next(layer for layer in net.layers if layer.op == "conv")
        total += d + (conv.P * conv.Q + 1) * d  # class token + position embedding
    return total
