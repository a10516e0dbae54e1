"""uvicorn's httptools protocol with a limit on the request head (request line and headers).

httptools has none: it gathers a header value of any size (64 MiB were taken whole, at 12 s of
CPU for the quadratic joining), so the limit is kept on the bytes read from the connection,
before they reach the parser. A head that has not ended within the limit gets 431 and the
connection is closed. `crowdnb serve` passes `HeadLimit.of(limit)` as uvicorn's `http`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from crowdnb.server.limits import SETTINGS, refusal

STATUS_LINE = b"HTTP/1.1 431 Request Header Fields Too Large\r\n"


class HeadLimit(HttpToolsProtocol):
    """An HTTP/1.1 connection whose request heads may be at most `head_limit` bytes."""

    def __init__(self, *args: Any, head_limit: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_limit = head_limit
        self.head_read: int | None = 0  # bytes of the current head read so far; None in a body

    @classmethod
    def of(cls, head_limit: int) -> partial[HeadLimit]:
        """A protocol factory for uvicorn's `http` (picklable, for its worker processes)."""
        return partial(cls, head_limit=head_limit)

    def data_received(self, data: bytes) -> None:
        """Feed the parser no more of a head than the limit; refuse a head still unfinished then.
        Bytes after a body in the same read (a pipelined request) are counted from the next read."""
        while data and self.head_read is not None:
            part, data = data[: self.head_limit - self.head_read], data[self.head_limit - self.head_read :]
            self.head_read += len(part)
            super().data_received(part)
            if self.transport.is_closing():
                return
            if self.head_read is not None and self.head_read >= self.head_limit:
                self._refuse()
                return
        if data:
            super().data_received(data)

    def on_headers_complete(self) -> None:
        self.head_read = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.head_read = 0

    def _refuse(self) -> None:
        setting = SETTINGS["head"]
        headers, body = refusal(
            431,
            f"the request line and headers are over the limit of {self.head_limit} bytes "
            f"(crowdnb serve {setting.option} or ${setting.env})",
        )
        self.transport.write(STATUS_LINE + b"".join(name + b": " + value + b"\r\n" for name, value in headers) + b"\r\n" + body)
        self.transport.close()
