"""Model loading, LoRA training and generation-based evaluation."""
