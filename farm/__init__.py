"""tflite-farm: benchmark TensorFlow Lite / LiteRT models on every device and delegate you own."""

__version__ = "0.1.0"
