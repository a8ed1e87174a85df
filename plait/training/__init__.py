"""The training loop, GradientTape and compile-time resolution."""
