"""The command line around a script's plain `main(settings)`.

A script's `main()` raises KitError for a user's mistake and returns its result, so that a notebook, a sweep or a
test can call it like any function. Only `python src/<script>.py` turns the error into one line and an exit code:

    if __name__ == "__main__":
        run_cli(main, Settings)
"""

from .errors import user_errors_as_exit_codes
from .settings import parse_settings


def run_cli(main, settings_class, argv=None, **main_kwargs):
    """Parse the flags (and --config) into `settings_class`, run `main(settings, **main_kwargs)` and return its
    result. A KitError is `error: <one line>` and exit status 2; Ctrl-C, SIGTERM and SIGHUP stop it with exit status
    130 after the script's own clean-up, with the signal handlers installed for the run only."""
    with user_errors_as_exit_codes():
        return main(parse_settings(settings_class, argv), **main_kwargs)
