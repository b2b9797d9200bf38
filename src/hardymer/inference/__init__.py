"""Inference on new data: ``hardymer.load(path).predict(audio=..., text=..., video=None)``."""

from hardymer.inference.predictor import Prediction, Predictor, load, predict_file

__all__ = ["Prediction", "Predictor", "load", "predict_file"]
