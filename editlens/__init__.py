"""EditLens: data-quality analytics warehouse for instruction-guided image-editing datasets."""

__version__ = "0.1.0"
