"""T5ForConditionalGeneration in plain PyTorch with Hugging Face's parameter names and numerics
(RMS layer norm, unscaled attention, relative position buckets in the first block, relu FFN, tied
embeddings rescaled by d_model**-0.5 before the LM head), so `kiln export` reads the checkpoint and
must reproduce what this module computes."""
import math

import torch
from torch import nn


class T5LayerNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def relative_position_bucket(rel, bidirectional, num_buckets, max_distance):
    buckets = torch.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        buckets += (rel > 0).long() * num_buckets
        rel = rel.abs()
    else:
        rel = -torch.min(rel, torch.zeros_like(rel))
    max_exact = num_buckets // 2
    large = max_exact + (torch.log(rel.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).long()
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return buckets + torch.where(rel < max_exact, rel, large)


class T5Attention(nn.Module):
    def __init__(self, c, has_bias, bidirectional):
        super().__init__()
        self.h, self.dk, self.c, self.bidirectional = c["num_heads"], c["d_kv"], c, bidirectional
        inner = self.h * self.dk
        self.q = nn.Linear(c["d_model"], inner, bias=False)
        self.k = nn.Linear(c["d_model"], inner, bias=False)
        self.v = nn.Linear(c["d_model"], inner, bias=False)
        self.o = nn.Linear(inner, c["d_model"], bias=False)
        if has_bias:
            self.relative_attention_bias = nn.Embedding(c["relative_attention_num_buckets"], self.h)

    def position_bias(self, q_len, k_len):
        rel = torch.arange(k_len)[None, :] - torch.arange(q_len)[:, None]
        b = relative_position_bucket(rel, self.bidirectional, self.c["relative_attention_num_buckets"],
                                     self.c["relative_attention_max_distance"])
        return self.relative_attention_bias(b).permute(2, 0, 1).unsqueeze(0)

    def forward(self, x, kv, bias):
        b = x.shape[0]
        split = lambda t: t.view(b, -1, self.h, self.dk).transpose(1, 2)
        scores = split(self.q(x)) @ split(self.k(kv)).transpose(-1, -2) + bias
        ctx = scores.float().softmax(-1) @ split(self.v(kv))
        return self.o(ctx.transpose(1, 2).reshape(b, -1, self.h * self.dk))


class T5Block(nn.Module):
    def __init__(self, c, decoder, has_bias):
        super().__init__()
        eps = c["layer_norm_epsilon"]
        self.layer = nn.ModuleList()
        sa = nn.Module()
        sa.SelfAttention = T5Attention(c, has_bias, not decoder)
        sa.layer_norm = T5LayerNorm(c["d_model"], eps)
        self.layer.append(sa)
        if decoder:
            ca = nn.Module()
            ca.EncDecAttention = T5Attention(c, False, True)
            ca.layer_norm = T5LayerNorm(c["d_model"], eps)
            self.layer.append(ca)
        ff = nn.Module()
        ff.DenseReluDense = nn.Module()
        ff.DenseReluDense.wi = nn.Linear(c["d_model"], c["d_ff"], bias=False)
        ff.DenseReluDense.wo = nn.Linear(c["d_ff"], c["d_model"], bias=False)
        ff.layer_norm = T5LayerNorm(c["d_model"], eps)
        self.layer.append(ff)
        self.drop = nn.Dropout(c["dropout_rate"])

    def forward(self, x, self_bias, enc=None, cross_bias=None):
        sa = self.layer[0]
        h = sa.layer_norm(x)
        x = x + self.drop(sa.SelfAttention(h, h, self_bias))
        if enc is not None:
            ca = self.layer[1]
            x = x + self.drop(ca.EncDecAttention(ca.layer_norm(x), enc, cross_bias))
        ff = self.layer[-1]
        d = ff.DenseReluDense
        return x + self.drop(d.wo(self.drop(torch.relu(d.wi(ff.layer_norm(x))))))


class T5Stack(nn.Module):
    def __init__(self, c, decoder):
        super().__init__()
        n = c["num_decoder_layers"] if decoder else c["num_layers"]
        self.block = nn.ModuleList(T5Block(c, decoder, i == 0) for i in range(n))
        self.final_layer_norm = T5LayerNorm(c["d_model"], c["layer_norm_epsilon"])
        self.drop = nn.Dropout(c["dropout_rate"])
        self.decoder = decoder

    def forward(self, x, mask, enc=None, enc_mask=None):
        neg = torch.finfo(torch.float32).min
        q = x.shape[1]
        bias = self.block[0].layer[0].SelfAttention.position_bias(q, q)
        keep = mask[:, None, None, :].bool()
        if self.decoder:
            keep = keep & torch.tril(torch.ones(q, q, dtype=torch.bool))[None, None]
        bias = bias + (~keep).float() * neg
        cross = None if enc is None else (1.0 - enc_mask[:, None, None, :].float()) * neg
        x = self.drop(x)
        for blk in self.block:
            x = blk(x, bias, enc, cross)
        return self.drop(self.final_layer_norm(x))


class T5ForConditionalGeneration(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.shared = nn.Embedding(c["vocab_size"], c["d_model"])
        self.encoder = T5Stack(c, False)
        self.decoder = T5Stack(c, True)
        self.apply(self._init)

    def _init(self, m):  # transformers' T5PreTrainedModel._init_weights, factor 1.0
        c = self.c
        d, dk, h = c["d_model"], c["d_kv"], c["num_heads"]
        if isinstance(m, T5LayerNorm):
            m.weight.data.fill_(1.0)
        elif isinstance(m, nn.Embedding) and m is getattr(self, "shared", None):
            m.weight.data.normal_(0.0, 1.0)
        elif isinstance(m, T5Attention):
            m.q.weight.data.normal_(0.0, (d * dk) ** -0.5)
            m.k.weight.data.normal_(0.0, d ** -0.5)
            m.v.weight.data.normal_(0.0, d ** -0.5)
            m.o.weight.data.normal_(0.0, (h * dk) ** -0.5)
            if hasattr(m, "relative_attention_bias"):
                m.relative_attention_bias.weight.data.normal_(0.0, d ** -0.5)
        elif isinstance(m, T5Block):
            d_ = m.layer[-1].DenseReluDense
            d_.wi.weight.data.normal_(0.0, d ** -0.5)
            d_.wo.weight.data.normal_(0.0, c["d_ff"] ** -0.5)

    def encode(self, ids, mask):
        return self.encoder(self.shared(ids), mask)

    def decode(self, dec_ids, enc, enc_mask):
        dec_mask = torch.ones_like(dec_ids)
        x = self.decoder(self.shared(dec_ids), dec_mask, enc, enc_mask)
        return (x * self.c["d_model"] ** -0.5) @ self.shared.weight.t()

    def forward(self, ids, mask, dec_ids):
        return self.decode(dec_ids, self.encode(ids, mask), mask)

    @torch.no_grad()
    def greedy(self, ids, mask, max_new_tokens):
        enc = self.encode(ids, mask)
        out = torch.full((ids.shape[0], 1), self.c["decoder_start_token_id"], dtype=torch.long)
        done = torch.zeros(ids.shape[0], dtype=torch.bool)
        for _ in range(max_new_tokens):
            nxt = self.decode(out, enc, mask)[:, -1].argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, self.c["pad_token_id"]), nxt)
            out = torch.cat([out, nxt[:, None]], 1)
            done |= nxt == self.c["eos_token_id"]
            if done.all():
                break
        return out

    def hf_state_dict(self):
        """The state dict with the tied copies transformers also lists (safetensors keeps shared.weight)."""
        return {k: v for k, v in self.state_dict().items()}
