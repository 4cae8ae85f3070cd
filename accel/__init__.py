"""accelsim: analytical DNN accelerator model (numba), loop-nest mapper and NAS front end."""

__version__ = "0.1.0"
