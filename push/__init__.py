"""Push to the wall: a wake-up signal over Server-Sent Events from an ASGI process.

The push process subscribes once to the live store's wake channel and tells every
connected wall screen that something changed; the screen then fetches what changed
through its usual Dash poll callback. No data travels this way, only versions.
"""
