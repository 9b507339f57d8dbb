"""A Python client: submits tasks for the python agent and watches them complete.

Run: PYTHONPATH=examples/python/gen python3 examples/python/client.py 127.0.0.1:50051 [count]
"""
import json
import sys
import threading

import grpc
from hive.v1 import hive_pb2 as pb
from hive.v1 import hive_pb2_grpc as rpc


def main(address: str, count: int) -> None:
    stub = rpc.HiveServiceStub(grpc.insecure_channel(address))
    watch = stub.WatchTasks(pb.WatchTasksRequest(types=["task.completed"]))
    completed: dict[str, str] = {}
    ids: set[str] = set()
    ready = threading.Event()

    def collect():
        try:
            for event in watch:
                completed[event.task.id] = event.task.result_json
                if ids and ids.issubset(completed.keys()):
                    ready.set()
                    return
        except grpc.RpcError:
            return

    threading.Thread(target=collect, daemon=True).start()
    stub.GetHiveStatus(pb.GetHiveStatusRequest())  # the channel is up, the watch is open
    # Flow control: one concurrency key, a tenant, and an estimate of 10 tokens each.
    tasks = [pb.NewTask(title=f"py-{i}", payload_json=json.dumps(i),
                        required_capabilities=[pb.RequiredCapability(name="python", min_proficiency=0.5)],
                        concurrency_keys=["python:demo"], fairness_key="python-client", cost={"tokens": 10.0})
             for i in range(count)]
    response = stub.SubmitTasks(pb.SubmitTasksRequest(tasks=tasks))
    ids.update(t.id for t in response.tasks)
    if ids.issubset(completed.keys()):
        ready.set()
    ready.wait(timeout=30)
    watch.cancel()
    results = {i: json.loads(completed[i]) for i in ids if i in completed}
    print(json.dumps({"submitted": len(ids), "completed": len(results), "results": results}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10)
