"""``flowdeck serve --reload``: watch the offered flow files and load a file again when it changes."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from flowdeck.errors import ValidationError
from flowdeck.server.catalogue import FlowCatalogue

__all__ = ["FlowFileWatcher"]

log = logging.getLogger("flowdeck.server.reload")


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


class FlowFileWatcher:
    """A background thread that reloads a catalogue's flow files when their contents change.

    New runs, re-runs and later steps of running runs use the new code; a step already running
    finishes on the code it started with. A file that no longer imports is reported in the log and
    the version loaded before stays in use.
    """

    def __init__(self, catalogue: FlowCatalogue, interval: float = 0.5) -> None:
        self.catalogue = catalogue
        self.interval = interval
        self._stop = threading.Event()
        self._stamps = {path: _stamp(path) for path in catalogue.flow_files()}
        self._thread = threading.Thread(target=self._watch, name="flowdeck-reload", daemon=True)

    def start(self) -> None:
        """Start watching."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (waits for the thread)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def check(self) -> list[str]:
        """Reload every watched file that changed since the last check; returns the reloaded flows' names."""
        reloaded: list[str] = []
        for path, before in list(self._stamps.items()):
            now = _stamp(path)
            if now is None or now == before:
                continue
            self._stamps[path] = now
            try:
                names = self.catalogue.reload_file(path)
            except ValidationError as exc:
                log.error("flow file %s changed but cannot be loaded; still serving the last version: %s", path, exc)
                continue
            log.warning("reloaded flow file %s (%s)", path, ", ".join(names) or "no flows")
            reloaded.extend(names)
        return reloaded

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # the watcher must outlive any one bad reload
                log.exception("reloading flow files failed")
