"""The experiments, above the training engine: the demo, study 1 and study 2, each declared once.

- :mod:`.design`: sizes, seeds, the λ grid, the CI-size data and the paper's numbers (each written once);
- :mod:`.runs`: the one run type (:class:`~.runs.Arm` → :class:`~.runs.Run`), training and cached evaluation,
  where records live;
- :mod:`.stats`: the paired interval, the verdict rules, the formatters;
- :mod:`.records`: what a record carries beside its metrics (provenance, mechanism lines) and its commit;
- :mod:`.study1`, :mod:`.study2`, :mod:`.demo`: the three applications; :mod:`.figures` and :mod:`.readme`: their
  pictures and the README passage.
"""
