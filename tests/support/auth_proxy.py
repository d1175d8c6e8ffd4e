"""An auth proxy in front of the dashboard, as oauth2-proxy runs: every request it forwards, the
WebSocket upgrade included, carries the signed-in user's header, and a copy of that header sent
by the client is dropped.

A browser's own extra headers are no stand-in: Chromium does not send them on the WebSocket
handshake, where Streamlit reads a session's headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class HeaderProxy:
    """A reverse proxy on a free loopback port that adds `header: value` to every request."""

    def __init__(self, upstream_port: int, header: str, value: str) -> None:
        self.upstream_port = upstream_port
        self.header = header.encode()
        self.value = value.encode()
        # Its own loop in its own thread (the caller's thread may run a loop already, as
        # Playwright's synchronous API does).
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self.thread.start()
        if not started.wait(timeout=30):
            raise RuntimeError("the auth proxy did not start")

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0)
        )
        self.port = int(self.server.sockets[0].getsockname()[1])
        started.set()
        self.loop.run_forever()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Close the listener and every open connection, then end the loop and its thread."""
        asyncio.run_coroutine_threadsafe(self._shut(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()

    async def _shut(self) -> None:
        self.server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.server.wait_closed()

    def rewrite(self, head: bytes) -> tuple[bytes, int, bool]:
        """The request head with the header set; the body's length; whether the connection
        turns into a byte stream after it (an upgrade, or a body of unknown length)."""
        lines = head[:-4].split(b"\r\n")
        kept = [lines[0]]
        length, raw = 0, False
        for line in lines[1:]:
            name, _, rest = line.partition(b":")
            key = name.strip().lower()
            if key == self.header.lower():
                continue
            if key == b"content-length":
                length = int(rest.strip())
            elif key == b"upgrade" or (key == b"transfer-encoding" and b"chunked" in rest.lower()):
                raw = True
            kept.append(line)
        kept.append(self.header + b": " + self.value)
        return b"\r\n".join(kept) + b"\r\n\r\n", length, raw

    async def _serve(self, client: asyncio.StreamReader, reply: asyncio.StreamWriter) -> None:
        upstream, forward = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        back = asyncio.create_task(_pipe(upstream, reply))
        try:
            while True:
                head, length, raw = self.rewrite(await client.readuntil(b"\r\n\r\n"))
                forward.write(head)
                if length:
                    forward.write(await client.readexactly(length))
                await forward.drain()
                if raw:
                    await _pipe(client, forward)
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            forward.close()
            await back
            reply.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(1 << 16):
            sink.write(data)
            await sink.drain()
    except ConnectionError:
        pass
    finally:
        if sink.can_write_eof():
            with contextlib.suppress(OSError, RuntimeError):
                sink.write_eof()
