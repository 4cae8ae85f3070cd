"""Hostile-input corpus (issue 10).

Every bad input — accelerator configs, sweep specs, bitwidth files, ONNX files, layer specs, CLI options —
goes through the real ``accelsim`` entry point (``accel.app.cli.main``, in a worker process; a handful
through ``python -m accel``) and must end in exit 1 or 2 with a short message naming where the problem is:
no traceback, no internal exception name, no hang (30 s), and no pre-existing file changed or new file left
behind.  Cases are generated deterministically in ``generators.py``; ``test_fuzz.py`` adds derandomized
hypothesis examples.

    python -m pytest tests/hostile                      # prints a table of outcome classes per family
    HOSTILE_REPORT=hostile.jsonl python -m pytest tests/hostile   # plus one JSON line per case
    python -m pytest tests/hostile -m "not hostile_new" # only cases that need no issue-10 behaviour
"""
