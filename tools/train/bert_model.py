"""BertForSequenceClassification in plain PyTorch with Hugging Face's parameter names, so the
saved state dict is what transformers would write and `kiln export` reads it unchanged."""
import math

import torch
from torch import nn


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, self.heads = c["hidden_size"], c["num_attention_heads"]
        eps = c["layer_norm_eps"]
        self.attention = nn.Module()
        self.attention.self = nn.Module()
        self.attention.self.query = nn.Linear(h, h)
        self.attention.self.key = nn.Linear(h, h)
        self.attention.self.value = nn.Linear(h, h)
        self.attention.output = nn.Module()
        self.attention.output.dense = nn.Linear(h, h)
        self.attention.output.LayerNorm = nn.LayerNorm(h, eps=eps)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(h, c["intermediate_size"])
        self.output = nn.Module()
        self.output.dense = nn.Linear(c["intermediate_size"], h)
        self.output.LayerNorm = nn.LayerNorm(h, eps=eps)
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

    def forward(self, x, bias):
        b, s, h = x.shape
        d = h // self.heads
        a = self.attention.self
        split = lambda t: t.view(b, s, self.heads, d).transpose(1, 2)
        q, k, v = split(a.query(x)), split(a.key(x)), split(a.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + bias
        ctx = (self.dropout(scores.softmax(-1)) @ v).transpose(1, 2).reshape(b, s, h)
        x = self.attention.output.LayerNorm(self.dropout(self.attention.output.dense(ctx)) + x)
        ff = self.output.dense(nn.functional.gelu(self.intermediate.dense(x)))
        return self.output.LayerNorm(self.dropout(ff) + x)


class BertForSequenceClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden_size"]
        self.bert = nn.Module()
        e = self.bert.embeddings = nn.Module()
        e.word_embeddings = nn.Embedding(c["vocab_size"], h, padding_idx=c.get("pad_token_id", 0))
        e.position_embeddings = nn.Embedding(c["max_position_embeddings"], h)
        e.token_type_embeddings = nn.Embedding(c["type_vocab_size"], h)
        e.LayerNorm = nn.LayerNorm(h, eps=c["layer_norm_eps"])
        self.bert.encoder = nn.Module()
        self.bert.encoder.layer = nn.ModuleList(BertLayer(c) for _ in range(c["num_hidden_layers"]))
        self.bert.pooler = nn.Module()
        self.bert.pooler.dense = nn.Linear(h, h)
        self.classifier = nn.Linear(h, len(c["id2label"]))
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])
        self.apply(lambda m: self._init(m, c["initializer_range"]))

    @staticmethod
    def _init(m, std):  # transformers' BertPreTrainedModel._init_weights
        if isinstance(m, (nn.Linear, nn.Embedding)):
            m.weight.data.normal_(0.0, std)
        if isinstance(m, nn.Linear) and m.bias is not None:
            m.bias.data.zero_()
        if isinstance(m, nn.Embedding) and m.padding_idx is not None:
            m.weight.data[m.padding_idx].zero_()
        if isinstance(m, nn.LayerNorm):
            m.weight.data.fill_(1.0)
            m.bias.data.zero_()

    def forward(self, input_ids, attention_mask, token_type_ids):
        e = self.bert.embeddings
        pos = torch.arange(input_ids.shape[1]).unsqueeze(0)
        x = e.word_embeddings(input_ids) + e.position_embeddings(pos) + e.token_type_embeddings(token_type_ids)
        x = self.dropout(e.LayerNorm(x))
        bias = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.bert.encoder.layer:
            x = layer(x, bias)
        pooled = torch.tanh(self.bert.pooler.dense(x[:, 0]))
        return self.classifier(self.dropout(pooled))
