"""The local fake Labelbox, extended with the mask downloads of export v2.

Labelbox exports a segmentation mask as a URL on its own API host that must be fetched with the
API key (``Authorization: Bearer <key>``). :meth:`FakeLabelboxWithMasks.add_mask` stores PNG
bytes and returns such a URL under ``/api/v1/masks/<id>``; a GET without the bearer token is
answered 401, an unknown mask 404, and :meth:`FakeLabelboxWithMasks.fail_mask` makes a mask
answer a given status a number of times first (429 / 5xx for the retry path).
:meth:`mask_downloads` counts the authorized downloads of a mask.
"""

from __future__ import annotations

import threading
from collections import Counter
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

from cadbusi_assets_tests.labeling import fake_labelbox as base
from cadbusi_assets_tests.labeling.fake_labelbox import FakeLabelbox, RecordedRequest

MASK_PREFIX = "/api/v1/masks/"


class _Handler(base._Handler):
    def do_GET(self) -> None:
        path = urlparse(self.path).path
        if path.startswith(MASK_PREFIX):
            owner = self.owner
            assert isinstance(owner, FakeLabelboxWithMasks)
            status, body = owner.handle_mask(path, self.headers.get("Authorization", ""))
            self._send(status, body, "image/png" if status == 200 else "application/json")
            return
        super().do_GET()


class FakeLabelboxWithMasks(FakeLabelbox):
    """:class:`FakeLabelbox` plus ``GET /api/v1/masks/<id>`` behind the bearer token."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._masks: dict[str, bytes] = {}
        self._mask_failures: dict[str, list[int]] = {}
        self._downloads: Counter[str] = Counter()

    def start(self) -> FakeLabelboxWithMasks:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def add_mask(self, png: bytes, mask_id: str | None = None) -> str:
        """Store a mask; returns its URL (as an export names it)."""
        with self._lock:
            mask_id = mask_id or self._new_id("cmask")
            self._masks[mask_id] = png
        return f"{self.base_url}{MASK_PREFIX}{mask_id}"

    def fail_mask(self, url: str, *statuses: int) -> None:
        """The next downloads of the mask at ``url`` answer ``statuses`` (in order) first."""
        with self._lock:
            self._mask_failures.setdefault(_mask_id(url), []).extend(statuses)

    def mask_downloads(self, url: str | None = None) -> int:
        """Authorized downloads answered 200 (of the mask at ``url``, or of all masks)."""
        with self._lock:
            if url is None:
                return sum(self._downloads.values())
            return self._downloads[_mask_id(url)]

    def handle_mask(self, path: str, authorization: str) -> tuple[int, bytes]:
        mask_id = path[len(MASK_PREFIX) :]
        authorized = authorization == f"Bearer {self.api_key}"
        with self._lock:
            self.requests.append(RecordedRequest("GET", path, None, {}, authorized))
            if not authorized:
                return 401, b'{"message": "Unauthorized"}'
            failures = self._mask_failures.get(mask_id)
            if failures:
                return failures.pop(0), b'{"message": "fake failure"}'
            if mask_id not in self._masks:
                return 404, b'{"message": "not found"}'
            self._downloads[mask_id] += 1
            return 200, self._masks[mask_id]


def _mask_id(url: str) -> str:
    return urlparse(url).path.rsplit("/", 1)[-1]


def running_fake_with_masks(**kwargs: Any):
    """Generator for a pytest fixture: a started fake with masks, stopped afterwards."""
    fake = FakeLabelboxWithMasks(**kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()
    assert not fake.server_errors, "fake Labelbox crashed:\n" + "\n".join(fake.server_errors)


__all__ = ["MASK_PREFIX", "FakeLabelboxWithMasks", "running_fake_with_masks"]
