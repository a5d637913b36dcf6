"""Batch validation against roadrunner and a simulation truth (``sbmleq validate``); see
docs/validation.md.

Modules, each importing only the ones listed before it (and sbmleq's lower layers):

- :mod:`~sbmleq.validation.items`: the models of a batch (``BatchItem``, ``collect_items``);
- :mod:`~sbmleq.validation.store`: the SQLite results store, its JSON-lines export, ``read_results``;
- :mod:`~sbmleq.validation.kinetics`: labels for out-of-class rate laws (``classify_law``);
- :mod:`~sbmleq.validation.metrics`: the comparison with roadrunner (``compare``);
- :mod:`~sbmleq.validation.general_rows`: the general import and sbmleq's own solve of a model
  (``analyse_general``, ``run_general``) and its comparison with roadrunner;
- :mod:`~sbmleq.validation.truth`: the simulation truth (``read_truth``, ``judge``,
  ``attach_truth``): who is right, sbmleq or roadrunner;
- :mod:`~sbmleq.validation.worker`: the child side (``analyse_model``, ``solve_file``) and one
  model's row (``validate_item``, ``make_row``);
- :mod:`~sbmleq.validation.progress`: the progress bar;
- :mod:`~sbmleq.validation.batch`: the batch (``run_batch``, ``checkpoint_identity``);
- :mod:`~sbmleq.validation.command`: ``validate_command``, a plain function the CLI calls;
- :mod:`~sbmleq.validation.shipped`: rebuilding the shipped BioModels set from results.
"""
