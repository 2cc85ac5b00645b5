"""Fine-tuning a model on the user's albums: the albums, the training run, versions."""
