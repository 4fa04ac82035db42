"""Tests of ftkit.distributed: the processes after the first stay quiet and leave stdout and warnings as they were."""

import sys
import warnings

from ftkit.distributed import Processes


class OtherProcessAccelerator:
    """What Processes reads of an Accelerator, as it is on process 1 of 2."""

    process_index, num_processes = 1, 2


def test_a_quiet_process_prints_nothing_repeated_and_leaves_stdout_and_warning_filters_as_they_were(capsys):
    from transformers.utils import logging as transformers_logging

    processes = Processes(OtherProcessAccelerator())
    stdout, verbosity = sys.stdout, transformers_logging.get_verbosity()
    progress_bars = transformers_logging.is_progress_bar_enabled()
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        filters = list(warnings.filters)
        with processes.quiet():
            quiet_stdout = sys.stdout
            print("[data] 5 training samples in 5 micro-batches")
            warnings.warn("`torch_dtype` is deprecated! Use `dtype` instead!", FutureWarning, stacklevel=1)
            warnings.warn("the attention mask is not set", UserWarning, stacklevel=1)
            warnings.warn("overflow encountered in this process's loss", RuntimeWarning, stacklevel=1)
            assert transformers_logging.get_verbosity() == transformers_logging.ERROR
            assert not transformers_logging.is_progress_bar_enabled()
        assert sys.stdout is stdout and quiet_stdout is not stdout and quiet_stdout.closed
        assert warnings.filters == filters
        warnings.warn("shown again after the block", FutureWarning, stacklevel=1)
    assert capsys.readouterr().out == ""
    assert [(w.category, str(w.message)) for w in shown] == [
        (RuntimeWarning, "overflow encountered in this process's loss"), (FutureWarning, "shown again after the block")]
    assert transformers_logging.get_verbosity() == verbosity
    assert transformers_logging.is_progress_bar_enabled() == progress_bars

    # The same, held from one call to another (as `launched_processes` does for a script that prints throughout).
    processes.stay_quiet()
    quiet_stdout = sys.stdout
    print("[model] tiny on cpu")
    processes.end_quiet()
    assert sys.stdout is stdout and quiet_stdout.closed and capsys.readouterr().out == ""

    # Rank 0, like a single process, prints as usual.
    with Processes().quiet():
        print("[done] adapter saved")
    assert sys.stdout is stdout and capsys.readouterr().out == "[done] adapter saved\n"
