"""The HTTP implementation of the store interface: `connect(url, token)` and its offline outbox."""

from crowdnb.client.http import HttpStore, connect

__all__ = ["HttpStore", "connect"]
