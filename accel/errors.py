"""The one exception hierarchy of accelsim.

Every error that accelsim raises on purpose derives from :class:`AccelsimError`; the command line prints
such an error as one message and exits 1.  Anything else reaching the command line is a bug
("internal error — please report").

- :class:`InputError`: invalid user input (a config, sweep spec, bitwidth file, option value, …).
  :class:`ConfigInputError` (YAML-validated inputs, ``accel.schema.YamlError``) and
  :class:`WorkloadInputError` (networks, layers, ONNX files, NAS encodings) refine it.
- :class:`MappingError`: no valid mapping of a layer on an accelerator.
- :class:`OutputError`: an output location that cannot or must not be written (exists without
  ``--force``, a directory, a missing parent, unwritable).
- :class:`ExternalToolError`: a measurement backend (TVM, onnxruntime, torch) failed or is missing.

The classes also derive from the builtin exception they replaced (``ValueError`` for input errors) so code
written against the old classes keeps working.
"""

from __future__ import annotations

__all__ = ["AccelsimError", "InputError", "ConfigInputError", "WorkloadInputError", "MappingError", "OutputError",
           "ExternalToolError"]


class AccelsimError(Exception):
    """Root of every error accelsim raises on purpose (the CLI maps it to exit code 1)."""


class InputError(AccelsimError, ValueError):
    """Invalid user input: the message names the file, YAML path or option, and the rule."""


class ConfigInputError(InputError):
    """Invalid YAML-validated input (accelerator config, sweep spec, bitwidth file)."""


class WorkloadInputError(InputError):
    """Invalid network, layer spec, ONNX file or NAS architecture encoding."""


class MappingError(AccelsimError, ValueError):
    """No valid mapping exists for a layer on an accelerator."""


class OutputError(AccelsimError, OSError):
    """An output location that cannot, or must not, be written."""


class ExternalToolError(AccelsimError, RuntimeError):
    """A measurement backend (TVM, onnxruntime, torch) failed or is not installed."""
