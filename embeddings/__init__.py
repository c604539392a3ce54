"""Embedding and scoring jobs: shard manifest (reader) -> decode/embed/score (mapper) -> atomic Parquet (writer),
run by a distributor (local DataLoader workers, or Ray Data actors). Entry point: `editlens.embeddings.main.run_embed`."""
