"""hardymer: multimodal emotion recognition that stays accurate when modalities are missing."""

__version__ = "0.1.0"
