"""Reports read a sweep's results and never train: the Pareto front and its pages."""
