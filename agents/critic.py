"""A learned critic: goal text → provability in [0, 1]. A small byte-level T5 encoder, mean-pooled, and a linear
value head. It implements the ``Critic`` interface, batched."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aitp_gym.agents.models import read_model_file, write_model_file
from aitp_gym.agents.seq2seq import byte_tokenizer, tiny_t5_config, torch, transformers
from aitp_gym.agents.text import goal_view as goal_view_fn
from aitp_gym.agents.text import model_input
from aitp_gym.tree import Goal

HEAD_FILE = "value_head.pt"


class ValueModel(torch.nn.Module):
    def __init__(self, encoder: Any) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Linear(encoder.config.d_model, 1)

    def forward(self, input_ids: Any, attention_mask: Any) -> Any:
        """Logits of provability, one per goal."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.head(pooled).squeeze(-1)


class ValueCritic:
    """A ``Critic``: ``value(goals)`` → provabilities in [0, 1], in batches of ``batch_size``."""

    name = "value"

    def __init__(self, model: ValueModel, tokenizer: Any, max_goal_bytes: int = 512, batch_size: int = 64,
                 device: str = "cpu", goal_view: str = "full") -> None:
        goal_view_fn("", goal_view)  # an unknown view fails here
        self.goal_view = goal_view
        self.model = model.to(device)
        self.tokenizer = tokenizer
        self.max_goal_bytes = max_goal_bytes
        self.batch_size = batch_size
        self.device = device
        self.model.eval()

    @classmethod
    def tiny(cls, seed: int = 0, goal_view: str = "full", device: str = "cpu", **config: Any) -> ValueCritic:
        tokenizer = byte_tokenizer()
        torch.manual_seed(seed)
        encoder = transformers.T5EncoderModel(tiny_t5_config(len(tokenizer), **config))
        return cls(ValueModel(encoder), tokenizer, goal_view=goal_view, device=device)

    @classmethod
    def fresh(cls, goal_view: str = "full", device: str = "cpu", **_: Any) -> ValueCritic:
        """A fresh tiny critic for the models registry."""
        return cls.tiny(goal_view=goal_view, device=device)

    def save_pretrained(self, path: str | os.PathLike[str]) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model.encoder.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        torch.save(self.model.head.state_dict(), path / HEAD_FILE)
        write_model_file(path, self.name, {"max_goal_bytes": self.max_goal_bytes, "batch_size": self.batch_size,
                                           "goal_view": self.goal_view})

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str], device: str = "cpu") -> ValueCritic:
        path = Path(path)
        if not (path / HEAD_FILE).is_file():
            raise FileNotFoundError(f"{path} is not a critic checkpoint (no {HEAD_FILE}); save one with "
                                    "ValueCritic.save_pretrained")
        model = ValueModel(transformers.T5EncoderModel.from_pretrained(str(path)))
        model.head.load_state_dict(torch.load(path / HEAD_FILE, map_location="cpu", weights_only=True))
        settings = (read_model_file(path) or {"settings": {}})["settings"]
        return cls(model, transformers.AutoTokenizer.from_pretrained(str(path)), device=device, **settings)

    def parameters(self) -> list[Any]:
        return list(self.model.parameters())

    def train_modules(self) -> list[Any]:
        return [self.model]

    def encode(self, goals: Sequence[Goal | str]) -> Any:
        texts = [model_input(g.text if isinstance(g, Goal) else str(g), self.goal_view, self.max_goal_bytes)
                 for g in goals]
        return self.tokenizer(texts, return_tensors="pt", padding=True).to(self.device)

    def logits(self, goals: Sequence[Goal | str]) -> Any:
        """Logits of provability, one per goal, differentiable in the parameters."""
        enc = self.encode(goals)
        return self.model(enc.input_ids, enc.attention_mask)

    @torch.no_grad()
    def value(self, goals: Sequence[Goal | str]) -> list[float]:
        out: list[float] = []
        for i in range(0, len(goals), self.batch_size):
            chunk = goals[i:i + self.batch_size]
            if chunk:
                out.extend(torch.sigmoid(self.logits(chunk)).tolist())
        return out
