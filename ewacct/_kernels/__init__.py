"""Numba kernels (private). Everything here is ``@njit(cache=True)`` and takes plain floats/arrays."""
