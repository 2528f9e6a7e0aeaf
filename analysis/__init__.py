"""From a sweep's result files to answers: summaries with confidence intervals, phase
diagrams, time-series bands, Sobol' sensitivity indices and figures. Reads result files only.
"""
