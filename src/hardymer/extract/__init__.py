"""Features from raw media: ``hardymer extract`` (see ``docs/extract.md``).

A CSV manifest lists utterances with an audio file, a transcript and a video (or frame folder);
each modality is embedded by an optional backend (openSMILE eGeMAPSv02, sentence-transformers
MiniLM, FER2013 face model) and the result is written in the project's ``npz`` format. Missing or
unusable inputs give mask 0 and a line in the extraction report, never a crash or a zero vector
with mask 1.
"""

from hardymer.extract.base import Backend, InputError, MissingExtraError
from hardymer.extract.cache import FeatureCache, cache_key
from hardymer.extract.manifest import Manifest, read_manifest
from hardymer.extract.runner import DEFAULT_BACKENDS, ExtractResult, ModalityStats, extract, make_backend

__all__ = [
    "Backend",
    "DEFAULT_BACKENDS",
    "ExtractResult",
    "FeatureCache",
    "InputError",
    "Manifest",
    "MissingExtraError",
    "ModalityStats",
    "cache_key",
    "extract",
    "make_backend",
    "read_manifest",
]
