"""dlib's serialised integers, read without dlib (`dlib/serialize.h`): a control byte holding the
byte count (0x80 for a negative value), then the bytes, little-endian. Both converters of dlib's
models (`train.dlib.landmarks`, `train.dlib.weights`) read their files through `DlibReader`."""

from __future__ import annotations

from edge_runtime.core.errors import CheckpointError


class DlibReader:
    """A cursor over the bytes of a dlib file `name` holding a `kind` of model; every read past the
    end is a truncated file, every malformed integer a damaged one."""

    def __init__(self, data: bytes, name: str, kind: str) -> None:
        self.data, self.pos, self.name, self.kind = data, 0, name, kind

    def fail(self, what: str) -> CheckpointError:
        """The error for something malformed (`what`) at the current position."""
        return CheckpointError(f"{self.name} is not a {self.kind} or is damaged: {what} at byte {self.pos}")

    def truncated(self) -> CheckpointError:
        """The error for a file that ends before its content does."""
        return CheckpointError(f"{self.name} ends early after byte {self.pos}: it is truncated")

    def integers(self, n: int) -> list[int]:
        """The next `n` integers."""
        data, pos, values = self.data, self.pos, []
        append, from_bytes = values.append, int.from_bytes
        try:
            for _ in range(n):
                control = data[pos]
                size = control & 0x0F
                if not 0 < size <= 8 or control & 0x70:
                    self.pos = pos
                    raise self.fail(f"a bad integer (control byte {control:#04x})")
                value = from_bytes(data[pos + 1 : pos + 1 + size], "little")
                append(-value if control & 0x80 else value)
                pos += 1 + size
        except IndexError:
            raise self.truncated() from None
        if pos > len(data):
            raise self.truncated()
        self.pos = pos
        return values

    def integer(self) -> int:
        """The next integer."""
        return self.integers(1)[0]
