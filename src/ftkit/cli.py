"""The command line around a script's plain `main(settings)`.

A script's `main()` raises KitError for a user's mistake and returns its result, so that a notebook, a sweep or a
test can call it like any function. Only `python src/<script>.py` turns the error into one line and an exit code:

    if __name__ == "__main__":
        run_cli(main, Settings)

The training script's `main()` also turns SIGTERM and SIGHUP into Ctrl-C's clean-up for its own duration
(`@stop_signals_interrupt()`), so a notebook or a driver of one's own that calls it keeps that guarantee: a trained
adapter is never thrown away.
"""

from .errors import user_errors_as_exit_codes
from .settings import parse_settings


def run_cli(main, settings_class, argv=None, positional: str | None = None):
    """Parse the flags (and --config) into `settings_class`, run `main(settings)` and return its result.

    `positional` names the field that may also come without its flag (the inference script's prompt). A KitError is
    `error: <one line>` and exit status 2; Ctrl-C, SIGTERM and SIGHUP stop it with exit status 130 after the
    script's own clean-up, with the signal handlers installed for the run only."""
    with user_errors_as_exit_codes():
        return main(parse_settings(settings_class, argv, positional=positional))
