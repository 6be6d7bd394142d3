"""The reference import path ``predict_backend.validation``."""
