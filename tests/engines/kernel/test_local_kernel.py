"""Approved code in a real Jupyter kernel: outputs, errors, time and memory limits, Stop, a dead kernel."""

from __future__ import annotations

import base64
import dataclasses
import threading
import time

import pytest

from engines.kernel import KernelError, KernelLimits, LocalKernel

PNG_SIGNATURE = b"\x89PNG"


@pytest.fixture(scope="module")
def kernel():
    """One kernel for the module (starting one costs 1–2 s); tests leave it idle and usable."""
    session = LocalKernel(KernelLimits(time_s=30.0, memory_mb=1500, grace_s=3.0))
    yield session
    session.shutdown()


def test_text_results_and_streams_come_back_in_order(kernel):
    result = kernel.run("import sys\nprint('hello')\nprint('careful', file=sys.stderr)\n6 * 7")
    assert result.status == "ok" and result.message == ""
    assert result.stdout == "hello\n" and result.stderr == "careful\n"
    assert (
        result.outputs[-1].output_type == "execute_result" and result.outputs[-1].data["text/plain"] == "42"
    )
    assert result.execution_count >= 1


def test_outputs_are_streamed_while_the_cell_runs(kernel):
    seen: list[tuple[float, str]] = []
    started = time.monotonic()
    result = kernel.run(
        "import time\nprint('first', flush=True)\ntime.sleep(1.0)\nprint('second')",
        on_output=lambda out: seen.append((time.monotonic() - started, out.text)),
    )
    assert result.stdout == "first\nsecond\n"
    assert seen[0][1].startswith("first") and seen[0][0] < result.duration_s - 0.5, (
        "shown before the cell ended"
    )


def test_matplotlib_figures_come_back_as_png(kernel):
    result = kernel.run(
        "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('spikes')\nplt.show()"
    )
    assert result.status == "ok" and len(result.images) == 1
    assert base64.b64decode(result.images[0]).startswith(PNG_SIGNATURE)


def test_holoviews_figures_come_back_as_bokeh_json_and_html(kernel):
    result = kernel.run("import holoviews as hv\nhv.Curve([1, 3, 2], 'time', 'rate')", time_s=120)
    assert result.status == "ok", result.message
    assert len(result.outputs) == 1, "no notebook loader scripts, one figure"
    figure = result.figures[0]
    assert figure["doc"]["roots"] and figure["root_id"]
    assert "Bokeh" in result.outputs[0].data["text/html"]


def test_an_error_gives_its_traceback_and_the_kernel_goes_on(kernel):
    result = kernel.run("values = [1, 2]\nvalues[5]")
    assert result.status == "error" and result.error.ename == "IndexError"
    assert "list index out of range" in result.message
    assert "values[5]" in result.traceback_text and "\x1b[" not in result.traceback_text
    assert kernel.run("len(values)").outputs[0].data["text/plain"] == "2"


def test_a_cell_past_its_time_limit_is_interrupted_and_variables_survive(kernel):
    kernel.run("kept = 'still here'")
    result = kernel.run("import time\nwhile True:\n    time.sleep(0.05)", time_s=1.0)
    assert result.status == "timeout" and result.limit_hit == "time" and not result.kernel_restarted
    assert "time limit" in result.message and result.duration_s < 4.0
    assert kernel.run("print(kept)").stdout == "still here\n"


def test_stop_interrupts_the_running_cell(kernel):
    assert kernel.stop() is False, "nothing to stop"
    threading.Timer(0.8, kernel.stop).start()
    result = kernel.run("import time\nfor _ in range(600):\n    time.sleep(0.05)")
    assert result.status == "stopped" and result.message.startswith("Stopped by you")
    assert result.duration_s < 5.0


def test_a_second_run_while_one_runs_is_refused(kernel):
    worker = threading.Thread(target=kernel.run, args=("import time\ntime.sleep(1.5)",))
    worker.start()
    time.sleep(0.3)
    with pytest.raises(KernelError, match="still running"):
        kernel.run("1 + 1")
    worker.join()


def test_memory_past_the_limit_raises_memory_error_in_the_code(kernel):
    result = kernel.run("import numpy as np\nhuge = np.ones(400_000_000)")  # 3.2 GB against a 1.5 GB limit
    assert result.status == "error" and result.limit_hit == "memory"
    assert "1,500 MB" in result.message
    assert kernel.run("print('alive')").stdout == "alive\n"


def test_files_land_in_the_working_folder(kernel):
    result = kernel.run("open('result.csv', 'w').write('a,b\\n1,2\\n')\nimport os\nprint(os.getcwd())")
    assert result.stdout.strip() == str(kernel.workdir)
    assert (kernel.workdir / "result.csv").read_text() == "a,b\n1,2\n"


def test_a_kernel_that_ignores_interrupts_is_restarted(kernel):
    kernel.run("doomed = 1")
    code = (
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.05)"
    )
    limits, kernel.limits = kernel.limits, dataclasses.replace(kernel.limits, grace_s=1.0)
    try:
        result = kernel.run(code, time_s=0.5)
    finally:
        kernel.limits = limits
    assert result.status == "timeout" and result.kernel_restarted and "restarted" in result.message
    after = kernel.run("'doomed' in dir()")
    assert after.status == "ok" and after.outputs[0].data["text/plain"] == "False"


def test_a_kernel_that_dies_is_restarted_and_usable(kernel):
    result = kernel.run("import os\nos._exit(3)")
    assert result.status == "died" and result.kernel_restarted and "restarted" in result.message
    assert kernel.run("print(1 + 1)").stdout == "2\n"


def test_shutdown_removes_the_kernel_and_its_folder():
    session = LocalKernel(KernelLimits(time_s=20.0, memory_mb=0))
    pid = session.run("import os\nos.getpid()").outputs[0].data["text/plain"]
    folder = session.workdir
    session.shutdown()
    assert not folder.exists()
    import psutil

    assert not psutil.pid_exists(int(pid)) or psutil.Process(int(pid)).status() == psutil.STATUS_ZOMBIE
