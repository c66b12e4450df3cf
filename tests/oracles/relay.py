"""A TCP relay run inside a test's private network namespace: `relay.py LISTEN=TARGET ...`.

The real CLIs dial the well-known addresses of a BOSH-Lite (the director at
192.168.50.4:25555, HAProxy's ports on 10.244.0.34); the simulator listens on ephemeral
loopback ports. Inside a namespace the test made, this relay listens on the well-known
address and splices each connection to the simulator's port, byte for byte (TLS passes
through untouched, so the CLI checks the simulator's own certificates). Standard library
only: it is started by path with the project's interpreter. Prints `ready` once every
listener is bound.
"""

from __future__ import annotations

import asyncio
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


def _split(spec: str) -> tuple[str, int]:
    host, _, port = spec.rpartition(":")
    return host, int(port)


async def _serve(specs: list[str]) -> None:
    servers = []
    for spec in specs:
        listen, _, target = spec.partition("=")
        lhost, lport = _split(listen)
        thost, tport = _split(target)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         thost: str = thost, tport: int = tport) -> None:
            try:
                treader, twriter = await asyncio.open_connection(thost, tport)
            except OSError:
                writer.close()
                return
            await asyncio.gather(_pipe(reader, twriter), _pipe(treader, writer))
            for w in (writer, twriter):
                w.close()

        servers.append(await asyncio.start_server(handle, lhost, lport, reuse_address=True))
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    if len(sys.argv) < 2 or any("=" not in a for a in sys.argv[1:]):
        sys.exit("usage: relay.py LISTEN_HOST:PORT=TARGET_HOST:PORT ...")
    asyncio.run(_serve(sys.argv[1:]))
