"""SIP protocol core (RFC 3261), sans-IO: messages, transactions and dialogs.

Nothing in this package touches sockets, the event loop or the wall clock; the asyncio shell
feeds bytes in, takes messages out and passes the current time as ``now`` (seconds).
"""
