"""robustmsa: multimodal sentiment analysis that keeps working when modalities go missing."""

__version__ = "0.1.0"

from robustmsa.types import MODALITIES, Batch, MethodOutput, Prediction  # noqa: E402

__all__ = ["MODALITIES", "Batch", "MethodOutput", "Prediction", "__version__"]
