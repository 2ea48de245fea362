#!/usr/bin/python3
"""W6 echo server (asyncio / uvloop peer) on 127.0.0.1:PORT. Default: asyncio
streams (start_server, read / write / drain), the way the asyncio docs write
an echo server; --protocol: an asyncio.Protocol that writes back what it
receives (the low-level, faster form). Prints READY once listening."""
import argparse
import asyncio

from peer_common import run


async def handle(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def main(port, protocol):
    if protocol:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Echo, "127.0.0.1", port)
    else:
        server = await asyncio.start_server(handle, "127.0.0.1", port)
    print("READY", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--uvloop", action="store_true")
    p.add_argument("--protocol", action="store_true")
    args = p.parse_args()
    run(main(args.port, args.protocol), args.uvloop)
