"""Stopping the demo's child processes: politely first, then for sure."""

import subprocess


def stop_process(process: subprocess.Popen | None, grace_seconds: float) -> None:
    """SIGTERM ``process``; SIGKILL it if it is still running after ``grace_seconds``."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
