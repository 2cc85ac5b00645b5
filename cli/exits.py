"""The command line's exit statuses, in one place."""

EXIT_OK = 0
EXIT_FAILURE = 1
"""The work failed (the model cannot load, the library is unusable, ...)."""
EXIT_USAGE = 2
"""Bad usage or a path that does not exist: one line says which."""
EXIT_INTERRUPTED = 130
EXIT_CLOSED_PIPE = 141
"""What a program killed by SIGPIPE reports (128 + 13): the reader of its output left
(``pictor status | head -1``), as git and coreutils do, without a traceback."""
