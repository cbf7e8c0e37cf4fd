"""Blocking the network in a test: any download attempt fails loudly and is recorded."""

from __future__ import annotations

import socket
import urllib.request

import pytest


class NetworkBlocked(RuntimeError):
    """Raised by every blocked network call."""


def block_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Patch torch.hub downloads, urllib and socket connections to raise; returns the attempts made."""
    import torch.hub

    attempts: list[str] = []

    def refuse(*args, **kwargs):
        attempts.append(str(args[0]) if args else "?")
        raise NetworkBlocked(f"network access attempted: {args[:1]}")

    def refuse_connect(self, address, *args, **kwargs):
        attempts.append(str(address))
        raise NetworkBlocked(f"connection attempted to {address}")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for module in ("kornia.core.download", "kornia.feature.lightglue", "kornia.feature.disk.disk",
                   "kornia.feature.aliked.aliked"):
        monkeypatch.setattr(f"{module}.load_state_dict_from_url", refuse)
    return attempts
