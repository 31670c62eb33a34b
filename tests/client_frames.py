"""Client frames as a browser sends them (masked), or deliberately broken, for the tests."""

from __future__ import annotations

import os
import struct


def masked_frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bytes | None = None,
                 rsv: int = 0, masked: bool = True, length_override: int | None = None) -> bytes:
    """One client frame, masked as RFC 6455 requires (unless ``masked=False``, to test refusal).

    ``length_override`` writes another length in the header than the payload has.
    """
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if masked else 0
    length = len(payload) if length_override is None else length_override
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 0x10000:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
    if not masked:
        return head + payload
    mask = os.urandom(4) if mask is None else mask
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
