"""Exit codes: 0 the run happened (even if some sources failed), 1 it could not happen (database or
output folder unusable), 2 the config or the command line is invalid."""

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_CONFIG = 0, 1, 2
