"""Client for a crowdnb server: `connect(url, token)` and the offline outbox."""

from crowdnb.client.remote import HttpSource, Remote, RemoteProject, connect

__all__ = ["HttpSource", "Remote", "RemoteProject", "connect"]
