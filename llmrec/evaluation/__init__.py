"""Offline evaluation: ranking metrics, data splits and the published protocols (LlamaRec full ranking, sampled-20)."""
