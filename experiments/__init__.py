"""Sweeps: experiment files, designs, seeding, executors, crash-safe result storage, progress.

``crowd-model sweep SPEC.toml`` is the face; :func:`crowd_model.experiments.sweep.run_sweep` the engine.
"""
