"""`PNGImage`: the PNG bytes plait's plots return, which also display as a figure in Jupyter."""
from __future__ import annotations

import os
import struct

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class PNGImage(bytes):
    """A PNG file's bytes that show as an image in notebooks (`_repr_png_`) and print as a short summary.

    It is a `bytes` subclass, so code that writes, slices, compares or base64-encodes the result of a plot
    keeps working; IPython and Jupyter pick `_repr_png_` and draw the figure instead of a bytes literal.

    Example:
        >>> from plait import plot_history
        >>> png = plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}, dpi=50)
        >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n", png.width, png.height
        (True, 240, 200)
        >>> png  # doctest: +ELLIPSIS
        <PNG image 240x200, ... KB>
    """

    def __new__(cls, data: bytes) -> PNGImage:
        data = bytes(data)
        if data[:8] != PNG_MAGIC or data[12:16] != b"IHDR":
            raise ValueError(f"PNGImage needs the bytes of a PNG file (starting {PNG_MAGIC!r}), got {data[:8]!r}.")
        return super().__new__(cls, data)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels, read from the PNG header."""
        width, height = struct.unpack(">II", self[16:24])
        return int(width), int(height)

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]

    def save(self, path: str | os.PathLike) -> str:
        """Writes the PNG file (atomically: a reader never sees half an image); returns its path.

        Args:
            path: Where to write it, e.g. 'history.png'.

        Returns:
            The path as a string.
        """
        from plait.saving.atomic import write_bytes

        path = os.fspath(path)
        write_bytes(path, self)
        return path

    def _repr_png_(self) -> bytes:
        return bytes(self)

    def __repr__(self) -> str:
        width, height = self.size
        return f"<PNG image {width}x{height}, {max(1, round(len(self) / 1024))} KB>"

    __str__ = __repr__  # print(png) too: not 100k characters of escaped bytes
