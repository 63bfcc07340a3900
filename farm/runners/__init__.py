"""What runs on the device: the LiteRT Python runner and the native benchmark_model driver."""
