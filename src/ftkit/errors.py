"""One exception type for mistakes a user can make, and what the command line makes of it: one line, exit status 2."""

import contextlib
import errno
import functools
import signal
import sys
import threading

from .redaction import redact

# Signals that stop a run the way Ctrl-C does: `kill` (SIGTERM, also what job schedulers and notebook runtimes
# send) and SIGHUP (a closed terminal, a dropped SSH session).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class KitError(Exception):
    """A problem the user can fix (bad file, bad flag, missing model). Shown as one line, never a traceback.

    Bugs in the kit itself are left as ordinary exceptions so that their traceback is shown.
    """


def exit_on_user_error(main):
    """Decorator form of `user_errors_as_exit_codes`, kept for scripts copied from earlier versions, whose
    `main()` carries it; scripts now keep `main()` plain and wrap it in `ftkit.cli.run_cli` instead."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        with user_errors_as_exit_codes():
            return main(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def user_errors_as_exit_codes():
    """What the command line makes of an error: a KitError becomes `error: <message>` on stderr and exit status 2,
    Ctrl-C, SIGTERM and SIGHUP become `interrupted` and exit status 130. Secrets in the message are masked.

    SIGTERM and SIGHUP get Ctrl-C's clean-up for the duration of the block only (see `stop_signals_interrupt`).
    """
    try:
        with stop_signals_interrupt():
            yield
    except KitError as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt as error:
        print(f"interrupted ({error})" if str(error) else "interrupted", file=sys.stderr)
        raise SystemExit(130) from None


@contextlib.contextmanager
def stop_signals_interrupt():
    """SIGTERM and SIGHUP raise KeyboardInterrupt inside the block, as Ctrl-C does, so that a killed run cleans up
    the same way; the handlers found are put back afterwards, so a notebook or a test keeps its own."""
    previous = install_stop_handlers()
    try:
        yield
    finally:
        restore_handlers(previous)


def install_stop_handlers() -> dict:
    """SIGTERM and SIGHUP raise KeyboardInterrupt (in the main thread only; elsewhere Python allows no handler)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for stop_signal in STOP_SIGNALS:
        if stop_signal != signal.SIGINT:
            previous[stop_signal] = signal.signal(stop_signal, raise_keyboard_interrupt)
    return previous


def restore_handlers(previous: dict) -> None:
    for stop_signal, handler in previous.items():
        signal.signal(stop_signal, handler if handler is not None else signal.SIG_DFL)


@contextlib.contextmanager
def stop_signals_deferred():
    """Ctrl-C, SIGTERM and SIGHUP wait until the block is done: a rescue save is not cut in half by a second
    signal. They are remembered, not lost: the caller is already on its way out with the first one."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = {stop_signal: signal.signal(stop_signal, lambda number, frame: received.append(number))
                for stop_signal in STOP_SIGNALS}
    try:
        yield received
    finally:
        restore_handlers(previous)


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (libraries' messages run to paragraphs), or its type's name."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def one_line(error: BaseException | str) -> str:
    """A message as one line with its secrets masked: what the kit prints for an error."""
    text = error if isinstance(error, str) else str(error)
    return redact(" ".join(part.strip() for part in text.strip().splitlines() if part.strip()) or type(error).__name__)


def raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)


DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EIO, errno.EACCES, errno.EPERM}
DISK_MESSAGES = ("No space left on device", "StorageFull", "Disk quota exceeded", "Read-only file system",
                 "File too large", "Permission denied")


def disk_error_reason(error: BaseException) -> str | None:
    """Why writing failed, when `error` is the file system's doing (full disk, quota, read-only, no permission),
    else None. Some writers wrap the OS error in their own type (safetensors' SafetensorError), hence the texts."""
    if isinstance(error, OSError) and error.errno in DISK_ERRNOS:
        return error.strerror or first_line(error)
    text = str(error)
    return next((message for message in DISK_MESSAGES if message in text), None)
