"""Applications (layer 4): the ``accelsim`` command line, the sweep runner, co-design, rank correlation,
the TVM/onnxruntime cross-check, plots and reports.  Nothing in the core model (:mod:`accel`), the mapper
(:mod:`mapper`) or NAS (:mod:`nas`) imports from here."""
