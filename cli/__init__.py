"""The command line: a front over core.Library, like desktop/ is for the window."""
