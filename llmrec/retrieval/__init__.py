"""Candidate retrieval: text vectors and collaborative vectors in a vector store, fused into one candidate list."""
