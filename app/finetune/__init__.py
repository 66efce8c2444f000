"""Fine-tuning: chat datasets, LoRA training with PEFT, and the adapter registry."""
