"""One exception type for mistakes a user can make, turned into a one-line message by `exit_on_user_error`."""

import functools
import signal
import sys


class KitError(Exception):
    """A problem the user can fix (bad file, bad flag, missing model). Shown as one line, never a traceback.

    Bugs in the kit itself are left as ordinary exceptions so that their traceback is shown.
    """


def exit_on_user_error(main):
    """Decorator for a script's `main()`: a KitError becomes `error: <message>` on stderr and exit status 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        # `kill` (SIGTERM, also what job schedulers and notebook runtimes send) gets the same clean-up as Ctrl-C.
        signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
        try:
            return main(*args, **kwargs)
        except KitError as error:
            print(f"error: {error}", file=sys.stderr)
            raise SystemExit(2) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise SystemExit(130) from None

    return wrapper


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (libraries' messages run to paragraphs), or its type's name."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt
