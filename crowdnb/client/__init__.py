"""The HTTP implementation of the store interface: `connect(url, token)` and its offline outbox."""

from crowdnb.client.http import HttpStore, connect
from crowdnb.client.sender import OutboxState
from crowdnb.client.wire import ServerBusy, SignedOut

__all__ = ["HttpStore", "OutboxState", "ServerBusy", "SignedOut", "connect"]
