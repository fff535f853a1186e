"""Tables and plots for experiment reports."""
