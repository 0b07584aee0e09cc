"""Approximations of the composed privacy-loss distribution: plain Edgeworth and tilted (saddlepoint)."""
