"""A WebSocket observer on Debian's python3-websockets (a client we did not write).

Usage: ws_observer.py URL N -- subscribes to tasks, prints READY once subscribed,
then one JSON line {type, id} per task event, and exits after N task.completed events.
"""
import asyncio
import json
import sys

import websockets


async def main(url: str, want: int) -> None:
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "subscribe", "topics": ["tasks"]}))
        completed = 0
        async for raw in ws:
            msg = json.loads(raw)
            if msg["type"] == "subscribed":
                print("READY", flush=True)
            elif msg["type"].startswith("task."):
                print(json.dumps({"type": msg["type"], "id": msg["data"]["id"]}), flush=True)
                if msg["type"] == "task.completed":
                    completed += 1
                    if completed >= want:
                        return


asyncio.run(asyncio.wait_for(main(sys.argv[1], int(sys.argv[2])), timeout=60))
