"""TriTune: one query through a few-shot prompt, RAG and a LoRA adapter, side by side."""
