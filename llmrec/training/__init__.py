"""Fine-tuning the ranker: ranking examples from interaction logs, LoRA training, adapter manifests."""
