"""Write tables in a background thread while the loader validates the next file.

Both halves spend much of their time outside the GIL (pandas' CSV parser and hashing,
SQLite's ``step``, PostgreSQL's COPY), so on two cores they overlap. The sink only ever
sees one thread. Any failure on either side aborts the sink: nothing is published.
"""

import queue
import threading

import pandas as pd

_FINISH, _ABORT = object(), object()


class BackgroundWriter:
    """``write(name, df)`` queues a table; ``finish()`` publishes; leaving ``with`` early aborts."""

    def __init__(self, sink):
        self.sink = sink
        self.queue = queue.Queue(maxsize=2)  # bounded: validation may not run far ahead
        self.error = None
        self.done = False
        self.thread = threading.Thread(target=self._run, name="warehouse-writer", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        if not self.done:
            self._put(_ABORT)
            self.thread.join()
        return False

    def _run(self) -> None:
        published = False
        try:
            self.sink.open()
            while (item := self.queue.get()) is not _ABORT:
                if item is _FINISH:
                    self.sink.finish()
                    published = True
                    return
                self.sink.write(*item)
        except BaseException as e:  # handed to the loading thread, which re-raises it
            self.error = e
        finally:
            if not published:
                self.sink.abort()

    def _put(self, item) -> None:
        while self.thread.is_alive():
            try:
                self.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    def write(self, name: str, df: pd.DataFrame) -> None:
        self._check()
        self._put((name, df))

    def finish(self) -> None:
        self._put(_FINISH)
        self.thread.join()
        self.done = True
        self._check()
