"""Knowledge base: chunking, embeddings and hybrid search over pgvector + full-text."""
