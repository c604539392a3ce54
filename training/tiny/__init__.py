"""The training and evaluation programs of the bundled `editlens-tiny` model (`editlens.embeddings.tiny` is the runtime:
config, weights, loader) and their log, `TRAINING.md`."""
