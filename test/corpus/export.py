"""Exports the corpus of real exports: tiny modules written the way transformers, diffusers and
torch.nn write them, exported by PyTorch's own TorchScript ONNX exporter (Debian's python3-torch,
PyTorch 1.13). The ONNX files are the exporter's output, never an imitation of it; the only
post-processing is onnx's own saver for the variants that need it (weights as Constant nodes,
external data), said in each entry's `variant`. Two more steps run in test/corpus/corpus.ts after
this script: `variant: "ort-fused"` models are saved again by ONNX Runtime's graph optimizer, and
`convert_to` models (opsets 18-21, which torch 1.13 cannot write) are converted by core's
convertOpset.

Usage: python3 export.py OUT_DIR
Writes OUT_DIR/<name>.onnx (and external data files) and OUT_DIR/manifest.json, which names every
model's inputs with their symbolic dims and how to fill them (see test/corpus/corpus.ts).

The module code follows transformers 4.35 (GPT-2, LLaMA, BERT), diffusers 0.21 (Attention with the
torch-1 AttnProcessor) and torch 1.13's nn.MultiheadAttention; configs are tiny so the whole
corpus exports in seconds.
"""

import json
import math
import os
import sys
import warnings

import torch
from torch import nn
import torch.nn.functional as F

warnings.filterwarnings("ignore")
torch.manual_seed(0)

FMIN = torch.finfo(torch.float32).min

# ---------------------------------------------------------------- GPT-2 (transformers 4.35)


class Conv1D(nn.Module):
    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.randn(nx, nf) * 0.2)
        self.bias = nn.Parameter(torch.randn(nf) * 0.02)

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


class GPT2Attention(nn.Module):
    def __init__(self, hidden, heads, max_positions, legacy=False):
        super().__init__()
        self.register_buffer(
            "bias",
            torch.tril(torch.ones((max_positions, max_positions), dtype=torch.bool)).view(
                1, 1, max_positions, max_positions
            ),
            persistent=False,
        )
        self.num_heads = heads
        self.head_dim = hidden // heads
        self.split_size = hidden
        self.c_attn = Conv1D(3 * hidden, hidden)
        self.c_proj = Conv1D(hidden, hidden)
        # transformers 2.x-3.x wrote the slice bounds from the scores' own shape
        self.legacy = legacy

    def _attn(self, query, key, value, attention_mask=None):
        attn_weights = torch.matmul(query, key.transpose(-1, -2))
        attn_weights = attn_weights / torch.full(
            [], value.size(-1) ** 0.5, dtype=attn_weights.dtype, device=attn_weights.device
        )
        if self.legacy:
            nd, ns = attn_weights.size(-2), attn_weights.size(-1)
            causal_mask = self.bias[:, :, ns - nd : ns, :ns]
        else:
            query_length, key_length = query.size(-2), key.size(-2)
            causal_mask = self.bias[:, :, key_length - query_length : key_length, :key_length]
        mask_value = torch.full([], FMIN, dtype=attn_weights.dtype, device=attn_weights.device)
        attn_weights = torch.where(causal_mask, attn_weights.to(attn_weights.dtype), mask_value)
        if attention_mask is not None:
            attn_weights = attn_weights + attention_mask
        attn_weights = nn.functional.softmax(attn_weights, dim=-1)
        attn_weights = attn_weights.type(value.dtype)
        return torch.matmul(attn_weights, value)

    def _split_heads(self, tensor, num_heads, attn_head_size):
        new_shape = tensor.size()[:-1] + (num_heads, attn_head_size)
        tensor = tensor.view(new_shape)
        return tensor.permute(0, 2, 1, 3)

    def _merge_heads(self, tensor, num_heads, attn_head_size):
        tensor = tensor.permute(0, 2, 1, 3).contiguous()
        new_shape = tensor.size()[:-2] + (num_heads * attn_head_size,)
        return tensor.view(new_shape)

    def forward(self, hidden_states, layer_past=None, attention_mask=None):
        query, key, value = self.c_attn(hidden_states).split(self.split_size, dim=2)
        query = self._split_heads(query, self.num_heads, self.head_dim)
        key = self._split_heads(key, self.num_heads, self.head_dim)
        value = self._split_heads(value, self.num_heads, self.head_dim)
        if layer_past is not None:
            past_key, past_value = layer_past
            key = torch.cat((past_key, key), dim=-2)
            value = torch.cat((past_value, value), dim=-2)
        present = (key, value)
        attn_output = self._attn(query, key, value, attention_mask)
        attn_output = self._merge_heads(attn_output, self.num_heads, self.head_dim)
        return self.c_proj(attn_output), present


class NewGELU(nn.Module):
    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class GPT2Block(nn.Module):
    def __init__(self, hidden, heads, max_positions, legacy):
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden)
        self.attn = GPT2Attention(hidden, heads, max_positions, legacy)
        self.ln_2 = nn.LayerNorm(hidden)
        self.c_fc = Conv1D(4 * hidden, hidden)
        self.c_proj = Conv1D(hidden, 4 * hidden)
        self.act = NewGELU()

    def forward(self, hidden_states, layer_past, attention_mask):
        attn_output, present = self.attn(self.ln_1(hidden_states), layer_past, attention_mask)
        hidden_states = attn_output + hidden_states
        feed_forward = self.c_proj(self.act(self.c_fc(self.ln_2(hidden_states))))
        return hidden_states + feed_forward, present


class GPT2LMHeadModel(nn.Module):
    def __init__(self, vocab=96, hidden=32, heads=4, layers=2, max_positions=64, past=False, legacy=False):
        super().__init__()
        self.wte = nn.Embedding(vocab, hidden)
        self.wpe = nn.Embedding(max_positions, hidden)
        self.h = nn.ModuleList([GPT2Block(hidden, heads, max_positions, legacy) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(hidden)
        self.past = past
        self.layers = layers

    def forward(self, input_ids, attention_mask, *past_flat):
        batch_size, seq = input_ids.size()
        past_key_values = (
            [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(self.layers)]
            if self.past
            else [None] * self.layers
        )
        past_length = past_key_values[0][0].size(-2) if self.past else 0
        position_ids = torch.arange(past_length, seq + past_length, dtype=torch.long).unsqueeze(0)
        attention_mask = attention_mask.view(batch_size, -1)
        attention_mask = attention_mask[:, None, None, :]
        attention_mask = attention_mask.to(dtype=torch.float32)
        attention_mask = (1.0 - attention_mask) * FMIN
        hidden_states = self.wte(input_ids) + self.wpe(position_ids)
        presents = []
        for block, layer_past in zip(self.h, past_key_values):
            hidden_states, present = block(hidden_states, layer_past, attention_mask)
            presents.append(present)
        logits = torch.matmul(self.ln_f(hidden_states), self.wte.weight.t())
        if not self.past:
            return logits
        return (logits, *[t for p in presents for t in p])


# ---------------------------------------------------------------- LLaMA (transformers 4.35)


class LlamaRMSNorm(nn.Module):
    def __init__(self, hidden, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(1 + 0.1 * torch.randn(hidden))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


class LlamaRotaryEmbedding(nn.Module):
    def __init__(self, dim, max_position_embeddings=64, base=10000):
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        t = torch.arange(max_position_embeddings, dtype=inv_freq.dtype)
        freqs = torch.einsum("i,j->ij", t, inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos_cached", emb.cos(), persistent=False)
        self.register_buffer("sin_cached", emb.sin(), persistent=False)

    def forward(self, x, seq_len=None):
        return (
            self.cos_cached[:seq_len].to(dtype=x.dtype),
            self.sin_cached[:seq_len].to(dtype=x.dtype),
        )


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin, position_ids, unsqueeze_dim=1):
    cos = cos[position_ids].unsqueeze(unsqueeze_dim)
    sin = sin[position_ids].unsqueeze(unsqueeze_dim)
    q_embed = (q * cos) + (rotate_half(q) * sin)
    k_embed = (k * cos) + (rotate_half(k) * sin)
    return q_embed, k_embed


def repeat_kv(hidden_states, n_rep):
    batch, num_key_value_heads, slen, head_dim = hidden_states.shape
    if n_rep == 1:
        return hidden_states
    hidden_states = hidden_states[:, :, None, :, :].expand(batch, num_key_value_heads, n_rep, slen, head_dim)
    return hidden_states.reshape(batch, num_key_value_heads * n_rep, slen, head_dim)


class LlamaAttention(nn.Module):
    def __init__(self, hidden, heads, kv_heads):
        super().__init__()
        self.hidden_size = hidden
        self.num_heads = heads
        self.head_dim = hidden // heads
        self.num_key_value_heads = kv_heads
        self.num_key_value_groups = heads // kv_heads
        self.q_proj = nn.Linear(hidden, heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(heads * self.head_dim, hidden, bias=False)
        self.rotary_emb = LlamaRotaryEmbedding(self.head_dim)

    def forward(self, hidden_states, attention_mask, position_ids, past_key_value):
        bsz, q_len, _ = hidden_states.size()
        query_states = self.q_proj(hidden_states)
        key_states = self.k_proj(hidden_states)
        value_states = self.v_proj(hidden_states)
        query_states = query_states.view(bsz, q_len, self.num_heads, self.head_dim).transpose(1, 2)
        key_states = key_states.view(bsz, q_len, self.num_key_value_heads, self.head_dim).transpose(1, 2)
        value_states = value_states.view(bsz, q_len, self.num_key_value_heads, self.head_dim).transpose(1, 2)
        kv_seq_len = key_states.shape[-2]
        if past_key_value is not None:
            kv_seq_len += past_key_value[0].shape[-2]
        cos, sin = self.rotary_emb(value_states, seq_len=kv_seq_len)
        query_states, key_states = apply_rotary_pos_emb(query_states, key_states, cos, sin, position_ids)
        if past_key_value is not None:
            key_states = torch.cat([past_key_value[0], key_states], dim=2)
            value_states = torch.cat([past_key_value[1], value_states], dim=2)
        present = (key_states, value_states)
        key_states = repeat_kv(key_states, self.num_key_value_groups)
        value_states = repeat_kv(value_states, self.num_key_value_groups)
        attn_weights = torch.matmul(query_states, key_states.transpose(2, 3)) / math.sqrt(self.head_dim)
        attn_weights = attn_weights + attention_mask
        attn_weights = nn.functional.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query_states.dtype)
        attn_output = torch.matmul(attn_weights, value_states)
        attn_output = attn_output.transpose(1, 2).contiguous()
        attn_output = attn_output.reshape(bsz, q_len, self.hidden_size)
        return self.o_proj(attn_output), present


class LlamaMLP(nn.Module):
    def __init__(self, hidden, intermediate):
        super().__init__()
        self.gate_proj = nn.Linear(hidden, intermediate, bias=False)
        self.up_proj = nn.Linear(hidden, intermediate, bias=False)
        self.down_proj = nn.Linear(intermediate, hidden, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, hidden, heads, kv_heads):
        super().__init__()
        self.self_attn = LlamaAttention(hidden, heads, kv_heads)
        self.mlp = LlamaMLP(hidden, 2 * hidden)
        self.input_layernorm = LlamaRMSNorm(hidden)
        self.post_attention_layernorm = LlamaRMSNorm(hidden)

    def forward(self, hidden_states, attention_mask, position_ids, past_key_value):
        residual = hidden_states
        hidden_states, present = self.self_attn(
            self.input_layernorm(hidden_states), attention_mask, position_ids, past_key_value
        )
        hidden_states = residual + hidden_states
        residual = hidden_states
        hidden_states = self.mlp(self.post_attention_layernorm(hidden_states))
        return residual + hidden_states, present


def _make_causal_mask(input_ids_shape, dtype, device, past_key_values_length=0):
    bsz, tgt_len = input_ids_shape
    mask = torch.full((tgt_len, tgt_len), torch.finfo(dtype).min, device=device)
    mask_cond = torch.arange(mask.size(-1), device=device)
    mask.masked_fill_(mask_cond < (mask_cond + 1).view(mask.size(-1), 1), 0)
    mask = mask.to(dtype)
    if past_key_values_length > 0:
        mask = torch.cat(
            [torch.zeros(tgt_len, past_key_values_length, dtype=dtype, device=device), mask], dim=-1
        )
    return mask[None, None, :, :].expand(bsz, 1, tgt_len, tgt_len + past_key_values_length)


def _expand_mask(mask, dtype, tgt_len=None):
    bsz, src_len = mask.size()
    tgt_len = tgt_len if tgt_len is not None else src_len
    expanded_mask = mask[:, None, None, :].expand(bsz, 1, tgt_len, src_len).to(dtype)
    inverted_mask = 1.0 - expanded_mask
    return inverted_mask.masked_fill(inverted_mask.to(torch.bool), torch.finfo(dtype).min)


def _prepare_4d_causal_attention_mask(attention_mask, input_shape, inputs_embeds, past_key_values_length):
    """transformers 4.35 AttentionMaskConverter(is_causal=True).to_4d."""
    key_value_length = input_shape[-1] + past_key_values_length
    causal_4d_mask = None
    if input_shape[-1] > 1:
        causal_4d_mask = _make_causal_mask(
            input_shape, inputs_embeds.dtype, inputs_embeds.device, key_value_length - input_shape[-1]
        )
    expanded_attn_mask = _expand_mask(attention_mask, inputs_embeds.dtype, tgt_len=input_shape[-1])
    return expanded_attn_mask if causal_4d_mask is None else expanded_attn_mask + causal_4d_mask


class LlamaForCausalLM(nn.Module):
    def __init__(self, vocab=96, hidden=32, heads=4, kv_heads=2, layers=2, past=False):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, hidden)
        self.layers = nn.ModuleList([LlamaDecoderLayer(hidden, heads, kv_heads) for _ in range(layers)])
        self.norm = LlamaRMSNorm(hidden)
        self.lm_head = nn.Linear(hidden, vocab, bias=False)
        self.past = past
        self.num_layers = layers

    def forward(self, input_ids, attention_mask, position_ids, *past_flat):
        past_key_values = (
            [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(self.num_layers)]
            if self.past
            else [None] * self.num_layers
        )
        past_key_values_length = past_key_values[0][0].shape[2] if self.past else 0
        inputs_embeds = self.embed_tokens(input_ids)
        attention_mask = _prepare_4d_causal_attention_mask(
            attention_mask, input_ids.shape, inputs_embeds, past_key_values_length
        )
        hidden_states = inputs_embeds
        presents = []
        for layer, past in zip(self.layers, past_key_values):
            hidden_states, present = layer(hidden_states, attention_mask, position_ids, past)
            presents.append(present)
        logits = self.lm_head(self.norm(hidden_states)).float()
        if not self.past:
            return logits
        return (logits, *[t for p in presents for t in p])


# ---------------------------------------------------------------- BERT (transformers 4.35)


class BertSelfAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.num_attention_heads = heads
        self.attention_head_size = hidden // heads
        self.all_head_size = hidden
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)

    def transpose_for_scores(self, x):
        new_x_shape = x.size()[:-1] + (self.num_attention_heads, self.attention_head_size)
        x = x.view(new_x_shape)
        return x.permute(0, 2, 1, 3)

    def forward(self, hidden_states, attention_mask):
        mixed_query_layer = self.query(hidden_states)
        key_layer = self.transpose_for_scores(self.key(hidden_states))
        value_layer = self.transpose_for_scores(self.value(hidden_states))
        query_layer = self.transpose_for_scores(mixed_query_layer)
        attention_scores = torch.matmul(query_layer, key_layer.transpose(-1, -2))
        attention_scores = attention_scores / math.sqrt(self.attention_head_size)
        attention_scores = attention_scores + attention_mask
        attention_probs = nn.functional.softmax(attention_scores, dim=-1)
        context_layer = torch.matmul(attention_probs, value_layer)
        context_layer = context_layer.permute(0, 2, 1, 3).contiguous()
        new_context_layer_shape = context_layer.size()[:-2] + (self.all_head_size,)
        return context_layer.view(new_context_layer_shape)


class BertLayer(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.attention = BertSelfAttention(hidden, heads)
        self.attention_output = nn.Linear(hidden, hidden)
        self.ln1 = nn.LayerNorm(hidden, eps=1e-12)
        self.intermediate = nn.Linear(hidden, 2 * hidden)
        self.output = nn.Linear(2 * hidden, hidden)
        self.ln2 = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, hidden_states, attention_mask):
        attention = self.ln1(self.attention_output(self.attention(hidden_states, attention_mask)) + hidden_states)
        return self.ln2(self.output(F.gelu(self.intermediate(attention))) + attention)


class BertModel(nn.Module):
    def __init__(self, vocab=96, hidden=32, heads=4, layers=2, max_positions=64, mask_min=FMIN):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.position_embeddings = nn.Embedding(max_positions, hidden)
        self.ln = nn.LayerNorm(hidden, eps=1e-12)
        self.layer = nn.ModuleList([BertLayer(hidden, heads) for _ in range(layers)])
        self.mask_min = mask_min

    def forward(self, input_ids, attention_mask):
        seq_length = input_ids.size(1)
        position_ids = torch.arange(seq_length, dtype=torch.long).unsqueeze(0)
        hidden_states = self.ln(self.word_embeddings(input_ids) + self.position_embeddings(position_ids))
        # get_extended_attention_mask
        extended_attention_mask = attention_mask[:, None, None, :]
        extended_attention_mask = extended_attention_mask.to(dtype=torch.float32)
        extended_attention_mask = (1.0 - extended_attention_mask) * self.mask_min
        for layer in self.layer:
            hidden_states = layer(hidden_states, extended_attention_mask)
        return hidden_states


# ---------------------------------------------------------------- diffusers 0.21, torch-1 processor


class Attention(nn.Module):
    """diffusers.models.attention_processor.Attention with AttnProcessor (no SDPA)."""

    def __init__(self, query_dim, cross_attention_dim=None, heads=2, dim_head=8, norm_num_groups=None,
                 residual_connection=False, rescale_output_factor=1.0):
        super().__init__()
        inner_dim = dim_head * heads
        cross_attention_dim = cross_attention_dim if cross_attention_dim is not None else query_dim
        self.scale = dim_head**-0.5
        self.heads = heads
        self.residual_connection = residual_connection
        self.rescale_output_factor = rescale_output_factor
        self.group_norm = (
            nn.GroupNorm(num_channels=query_dim, num_groups=norm_num_groups, eps=1e-6, affine=True)
            if norm_num_groups is not None
            else None
        )
        self.to_q = nn.Linear(query_dim, inner_dim, bias=False)
        self.to_k = nn.Linear(cross_attention_dim, inner_dim, bias=False)
        self.to_v = nn.Linear(cross_attention_dim, inner_dim, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(inner_dim, query_dim), nn.Dropout(0.0)])

    def head_to_batch_dim(self, tensor, out_dim=3):
        head_size = self.heads
        batch_size, seq_len, dim = tensor.shape
        tensor = tensor.reshape(batch_size, seq_len, head_size, dim // head_size)
        tensor = tensor.permute(0, 2, 1, 3)
        if out_dim == 3:
            tensor = tensor.reshape(batch_size * head_size, seq_len, dim // head_size)
        return tensor

    def batch_to_head_dim(self, tensor):
        head_size = self.heads
        batch_size, seq_len, dim = tensor.shape
        tensor = tensor.reshape(batch_size // head_size, head_size, seq_len, dim)
        return tensor.permute(0, 2, 1, 3).reshape(batch_size // head_size, seq_len, dim * head_size)

    def get_attention_scores(self, query, key, attention_mask=None):
        dtype = query.dtype
        if attention_mask is None:
            baddbmm_input = torch.empty(
                query.shape[0], query.shape[1], key.shape[1], dtype=query.dtype, device=query.device
            )
            beta = 0
        else:
            baddbmm_input = attention_mask
            beta = 1
        attention_scores = torch.baddbmm(baddbmm_input, query, key.transpose(-1, -2), beta=beta, alpha=self.scale)
        attention_probs = attention_scores.softmax(dim=-1)
        return attention_probs.to(dtype)

    def forward(self, hidden_states, encoder_hidden_states=None):
        # AttnProcessor.__call__
        residual = hidden_states
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch_size, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch_size, channel, height * width).transpose(1, 2)
        if self.group_norm is not None:
            hidden_states = self.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        query = self.to_q(hidden_states)
        if encoder_hidden_states is None:
            encoder_hidden_states = hidden_states
        key = self.to_k(encoder_hidden_states)
        value = self.to_v(encoder_hidden_states)
        query = self.head_to_batch_dim(query)
        key = self.head_to_batch_dim(key)
        value = self.head_to_batch_dim(value)
        attention_probs = self.get_attention_scores(query, key, None)
        hidden_states = torch.bmm(attention_probs, value)
        hidden_states = self.batch_to_head_dim(hidden_states)
        hidden_states = self.to_out[0](hidden_states)
        hidden_states = self.to_out[1](hidden_states)
        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(batch_size, channel, height, width)
        if self.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / self.rescale_output_factor


class BasicTransformerBlock(nn.Module):
    """diffusers' BasicTransformerBlock: self-attention, cross-attention, GEGLU feed-forward."""

    def __init__(self, dim=16, cross_dim=12, heads=2, dim_head=8):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads=heads, dim_head=dim_head)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, cross_attention_dim=cross_dim, heads=heads, dim_head=dim_head)
        self.norm3 = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, 2 * 4 * dim)
        self.out = nn.Linear(4 * dim, dim)

    def forward(self, hidden_states, encoder_hidden_states):
        hidden_states = self.attn1(self.norm1(hidden_states)) + hidden_states
        hidden_states = self.attn2(self.norm2(hidden_states), encoder_hidden_states) + hidden_states
        h, gate = self.proj(self.norm3(hidden_states)).chunk(2, dim=-1)
        return self.out(h * F.gelu(gate)) + hidden_states


class VaeMidAttention(nn.Module):
    """The VAE mid-block attention: 4-D input, group norm, one head, residual connection."""

    def __init__(self, channels=16):
        super().__init__()
        self.attn = Attention(channels, heads=1, dim_head=channels, norm_num_groups=4,
                              residual_connection=True, rescale_output_factor=1.0)

    def forward(self, sample):
        return self.attn(sample)


# ---------------------------------------------------------------- torch.nn.MultiheadAttention


class TorchMultiheadAttention(nn.Module):
    """nn.MultiheadAttention (seq, batch, embed): packed self-attention in-projection, then a
    cross-attention over a memory (the packed weight split into q and kv)."""

    def __init__(self, embed=16, heads=2, padding=False):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(embed, heads)
        self.cross_attn = nn.MultiheadAttention(embed, heads)
        self.padding = padding

    def forward(self, x, memory, *mask):
        key_padding_mask = (mask[0] == 0) if self.padding else None
        x = x + self.self_attn(x, x, x, key_padding_mask=key_padding_mask, need_weights=False)[0]
        return x + self.cross_attn(x, memory, memory, need_weights=False)[0]


# ---------------------------------------------------------------- packed QKV (ViT-style)


class PackedQKVAttention(nn.Module):
    """One projection for q, k and v, reshaped to [b, s, 3, heads, head_dim] and permuted
    [2, 0, 3, 1, 4]; q, k, v taken by indexing (Gather), unbind (Split + Squeeze) or slicing
    (Slice + Squeeze). `flat` runs the projection on [b·s, c] (Gemm with transB)."""

    def __init__(self, dim=32, heads=4, take="gather", flat=False):
        super().__init__()
        self.num_heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.take = take
        self.flat = flat

    def forward(self, x):
        B, N, C = x.shape
        if self.flat:
            qkv = self.qkv(x.reshape(B * N, C))
        else:
            qkv = self.qkv(x)
        qkv = qkv.reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if self.take == "gather":
            q, k, v = qkv[0], qkv[1], qkv[2]
        elif self.take == "unbind":
            q, k, v = qkv.unbind(0)
        else:
            q, k, v = qkv[0:1].squeeze(0), qkv[1:2].squeeze(0), qkv[2:3].squeeze(0)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class PackedQKVEncoder(nn.Module):
    def __init__(self, take, flat):
        super().__init__()
        self.norm = nn.LayerNorm(32)
        self.attn = PackedQKVAttention(take=take, flat=flat)

    def forward(self, x):
        return x + self.attn(self.norm(x))


# ---------------------------------------------------------------- the corpus

TOKENS = {"dtype": "int64", "fill": "tokens", "vocab": 96}
MASK = {"dtype": "int64", "fill": "mask"}
POSITIONS = {"dtype": "int64", "fill": "positions"}
FLOAT = {"dtype": "float32", "fill": "normal"}


def io(name, spec, dims):
    return dict(spec, name=name, dims=dims)


def past_io(layers, heads, head_dim):
    inputs, outputs = [], []
    for i in range(layers):
        for kind in ("key", "value"):
            inputs.append(io(f"past_key_values.{i}.{kind}", FLOAT, ["batch", heads, "past", head_dim]))
            outputs.append(f"present.{i}.{kind}")
    return inputs, outputs


def entry(name, source, build, inputs, outputs, opset, example, **extra):
    return dict(name=name, source=source, build=build, inputs=inputs, outputs=outputs, opset=opset,
                example=example, **extra)


def corpus():
    ex = {"batch": 2, "sequence": 5, "past": 3}
    gpt2_past_in, gpt2_past_out = past_io(2, 4, 8)
    llama_past_in, llama_past_out = past_io(2, 2, 8)
    return [
        entry("gpt2", "transformers 4.35 GPT2LMHeadModel (Conv1D, causal bias buffer)",
              lambda: GPT2LMHeadModel(),
              [io("input_ids", TOKENS, ["batch", "sequence"]), io("attention_mask", MASK, ["batch", "sequence"])],
              ["logits"], 14, ex, causal=True),
        entry("gpt2-past", "transformers 4.35 GPT2LMHeadModel with past_key_values",
              lambda: GPT2LMHeadModel(past=True),
              [io("input_ids", TOKENS, ["batch", "sequence"]), io("attention_mask", MASK, ["batch", "total"])]
              + gpt2_past_in,
              ["logits"] + gpt2_past_out, 13, ex, causal=True, cache=True),
        entry("gpt2-legacy-opset11", "transformers 3.x GPT-2 (mask bounds read from the scores' shape)",
              lambda: GPT2LMHeadModel(legacy=True),
              [io("input_ids", TOKENS, ["batch", "sequence"]), io("attention_mask", MASK, ["batch", "sequence"])],
              ["logits"], 11, ex, causal=True),
        entry("llama", "transformers 4.35 LlamaForCausalLM (rotary, repeat_kv, GQA 4/2, 4-D mask helpers)",
              lambda: LlamaForCausalLM(),
              [io("input_ids", TOKENS, ["batch", "sequence"]), io("attention_mask", MASK, ["batch", "sequence"]),
               io("position_ids", POSITIONS, ["batch", "sequence"])],
              ["logits"], 14, ex, causal=True),
        entry("llama-past", "transformers 4.35 LlamaForCausalLM with past_key_values (GQA 4/2)",
              lambda: LlamaForCausalLM(past=True),
              [io("input_ids", TOKENS, ["batch", "sequence"]), io("attention_mask", MASK, ["batch", "total"]),
               io("position_ids", POSITIONS, ["batch", "sequence"])] + llama_past_in,
              ["logits"] + llama_past_out, 15, ex, causal=True, cache=True),
        entry("llama-mha-opset17", "transformers 4.35 LlamaForCausalLM, 4 key/value heads (no GQA)",
              lambda: LlamaForCausalLM(kv_heads=4),
              [io("input_ids", TOKENS, ["batch", "sequence"]), io("attention_mask", MASK, ["batch", "sequence"]),
               io("position_ids", POSITIONS, ["batch", "sequence"])],
              ["logits"], 17, ex, causal=True),
        entry("bert", "transformers 4.35 BertModel (extended attention mask)",
              lambda: BertModel(),
              [io("input_ids", TOKENS, ["batch", "sequence"]), io("attention_mask", MASK, ["batch", "sequence"])],
              ["last_hidden_state"], 12, ex),
        entry("bert-opset9-constants", "BertModel with the -10000 mask, opset 9, weights as Constant nodes",
              lambda: BertModel(mask_min=-10000.0),
              [io("input_ids", TOKENS, ["batch", "sequence"]), io("attention_mask", MASK, ["batch", "sequence"])],
              ["last_hidden_state"], 9, ex, variant="constants"),
        entry("bert-opset10", "BertModel with the -10000 mask, opset 10",
              lambda: BertModel(mask_min=-10000.0),
              [io("input_ids", TOKENS, ["batch", "sequence"]), io("attention_mask", MASK, ["batch", "sequence"])],
              ["last_hidden_state"], 10, ex),
        entry("diffusers-transformer-block", "diffusers 0.21 BasicTransformerBlock, torch-1 AttnProcessor (self and cross)",
              lambda: BasicTransformerBlock(),
              [io("hidden_states", FLOAT, ["batch", "sequence", 16]),
               io("encoder_hidden_states", FLOAT, ["batch", "context", 12])],
              ["output"], 14, dict(ex, context=4)),
        entry("diffusers-vae-attention", "diffusers 0.21 VAE mid-block Attention (4-D input, group norm, 1 head)",
              lambda: VaeMidAttention(),
              [io("sample", FLOAT, ["batch", 16, "height", "width"])],
              ["output"], 17, dict(ex, height=3, width=4)),
        entry("torch-mha", "torch 1.13 nn.MultiheadAttention (seq, batch, embed), self and cross",
              lambda: TorchMultiheadAttention(),
              [io("x", FLOAT, ["sequence", "batch", 16]), io("memory", FLOAT, ["context", "batch", 16])],
              ["output"], 13, dict(ex, context=4)),
        entry("torch-mha-padding", "torch 1.13 nn.MultiheadAttention with key_padding_mask",
              lambda: TorchMultiheadAttention(padding=True),
              [io("x", FLOAT, ["sequence", "batch", 16]), io("memory", FLOAT, ["context", "batch", 16]),
               io("attention_mask", MASK, ["batch", "sequence"])],
              ["output"], 14, dict(ex, context=4)),
        entry("packed-qkv-gather", "ViT-style packed QKV, q/k/v by indexing (Gather), Gemm transB projection",
              lambda: PackedQKVEncoder("gather", flat=True),
              [io("x", FLOAT, ["batch", "sequence", 32])], ["output"], 15, ex),
        entry("packed-qkv-unbind", "ViT-style packed QKV, q/k/v by unbind (Split + Squeeze)",
              lambda: PackedQKVEncoder("unbind", flat=False),
              [io("x", FLOAT, ["batch", "sequence", 32])], ["output"], 16, ex),
        entry("packed-qkv-slice-external", "ViT-style packed QKV, q/k/v by Slice + Squeeze, external data",
              lambda: PackedQKVEncoder("slice", flat=False),
              [io("x", FLOAT, ["batch", "sequence", 32])], ["output"], 17, ex, variant="external-data"),
        # Saved again by ONNX Runtime's own graph optimizer (level "extended", test/corpus/corpus.ts):
        # com.microsoft FusedMatMul, BiasGelu, FastGelu, QuickGelu already in the model, and the
        # opset imports of every domain ORT registers.
        entry("bert-ort-fused", "BertModel as saved by ONNX Runtime's optimizer (FusedMatMul, BiasGelu)",
              lambda: BertModel(),
              [io("input_ids", TOKENS, ["batch", "sequence"]), io("attention_mask", MASK, ["batch", "sequence"])],
              ["last_hidden_state"], 12, ex, variant="ort-fused"),
        entry("gpt2-ort-fused", "GPT2LMHeadModel as saved by ONNX Runtime's optimizer (FastGelu)",
              lambda: GPT2LMHeadModel(),
              [io("input_ids", TOKENS, ["batch", "sequence"]), io("attention_mask", MASK, ["batch", "sequence"])],
              ["logits"], 14, ex, causal=True, variant="ort-fused"),
        entry("llama-ort-fused", "LlamaForCausalLM as saved by ONNX Runtime's optimizer (FusedMatMul, QuickGelu for SiLU)",
              lambda: LlamaForCausalLM(),
              [io("input_ids", TOKENS, ["batch", "sequence"]), io("attention_mask", MASK, ["batch", "sequence"]),
               io("position_ids", POSITIONS, ["batch", "sequence"])],
              ["logits"], 14, ex, causal=True, variant="ort-fused"),
        # Opsets 18-21: torch 1.13 exports at 17 at most, so these are its opset-17 exports
        # converted by core's convertOpset (test/corpus/corpus.ts): ReduceMean/ReduceSum with
        # axes as an input (18), Split's num_outputs (18), Pad/Resize/Cast forms up to 21.
        entry("llama-opset18", "LlamaForCausalLM (GQA 4/2) exported at 17, converted to 18",
              lambda: LlamaForCausalLM(),
              [io("input_ids", TOKENS, ["batch", "sequence"]), io("attention_mask", MASK, ["batch", "sequence"]),
               io("position_ids", POSITIONS, ["batch", "sequence"])],
              ["logits"], 17, ex, causal=True, convert_to=18),
        entry("gpt2-past-opset19", "GPT2LMHeadModel with past_key_values exported at 17, converted to 19",
              lambda: GPT2LMHeadModel(past=True),
              [io("input_ids", TOKENS, ["batch", "sequence"]), io("attention_mask", MASK, ["batch", "total"])]
              + gpt2_past_in,
              ["logits"] + gpt2_past_out, 17, ex, causal=True, cache=True, convert_to=19),
        entry("bert-opset20", "BertModel exported at 17, converted to 20",
              lambda: BertModel(),
              [io("input_ids", TOKENS, ["batch", "sequence"]), io("attention_mask", MASK, ["batch", "sequence"])],
              ["last_hidden_state"], 17, ex, convert_to=20),
        entry("diffusers-transformer-block-opset21", "BasicTransformerBlock exported at 17, converted to 21",
              lambda: BasicTransformerBlock(),
              [io("hidden_states", FLOAT, ["batch", "sequence", 16]),
               io("encoder_hidden_states", FLOAT, ["batch", "context", 12])],
              ["output"], 17, dict(ex, context=4), convert_to=21),
    ]


def example_tensor(spec, dims):
    shape = [dims[d] if isinstance(d, str) else d for d in spec["dims"]]
    if spec["fill"] == "tokens":
        return torch.randint(0, spec["vocab"], shape)
    if spec["fill"] == "mask":
        return torch.ones(shape, dtype=torch.long)
    if spec["fill"] == "positions":
        return torch.arange(dims["past"], dims["past"] + shape[1]).unsqueeze(0).expand(shape).contiguous()
    return torch.randn(shape)


def export(item, out_dir):
    import onnx

    dims = dict(item["example"])
    if not item.get("cache"):
        dims["past"] = 0
    dims["total"] = dims["past"] + dims["sequence"]
    module = item["build"]().eval()
    args = tuple(example_tensor(spec, dims) for spec in item["inputs"])
    dynamic_axes = {}
    for spec in item["inputs"]:
        dynamic_axes[spec["name"]] = {i: d for i, d in enumerate(spec["dims"]) if isinstance(d, str)}
    path = os.path.join(out_dir, item["name"] + ".onnx")
    with torch.no_grad():
        torch.onnx.export(
            module, args, path,
            input_names=[s["name"] for s in item["inputs"]],
            output_names=item["outputs"],
            dynamic_axes=dynamic_axes,
            opset_version=item["opset"],
            do_constant_folding=True,
        )
    variant = item.get("variant")
    if variant in ("constants", "external-data"):
        model = onnx.load(path)
        if variant == "constants":
            # every weight as a Constant node, as some exporters write them
            nodes = [onnx.helper.make_node("Constant", [], [t.name], value=t) for t in model.graph.initializer]
            nodes += list(model.graph.node)
            del model.graph.initializer[:]
            del model.graph.node[:]
            model.graph.node.extend(nodes)
            onnx.save(model, path)
        elif variant == "external-data":
            onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                            location=item["name"] + ".data", size_threshold=0)
    return {k: v for k, v in item.items() if k != "build"}


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    only = set(sys.argv[2:])
    entries = [export(item, out_dir) for item in corpus() if not only or item["name"] in only]
    manifest = {"exporter": f"torch {torch.__version__} (torch.onnx, TorchScript)", "models": entries}
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
