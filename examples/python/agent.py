"""A remote agent in Python (grpcio): registers, takes tasks, and runs each in two
attempts (docs/workflows.md): the first reports progress and ends by sleeping 50 ms
with a checkpoint; the second, woken by its timer, answers with a result and the
usage it reports (flow control settles the task's cost estimate to it).

Stubs: python3 -m grpc_tools.protoc -I proto --python_out=examples/python/gen --grpc_python_out=examples/python/gen proto/hive/v1/hive.proto
Run:   PYTHONPATH=examples/python/gen python3 examples/python/agent.py 127.0.0.1:50051 [max_tasks]
       (with security on: HIVE_API_KEY=hive_... an API key of role agent)
"""
import json
import os
import queue
import sys

import grpc
from hive.v1 import hive_pb2 as pb
from hive.v1 import hive_pb2_grpc as rpc


def main(address: str, max_tasks: int) -> None:
    stub = rpc.AgentServiceStub(grpc.insecure_channel(address))
    outgoing: "queue.Queue[pb.AgentMessage | None]" = queue.Queue()
    outgoing.put(pb.AgentMessage(register=pb.Register(
        name="python-agent", max_concurrency=4, labels={"lang": "python"},
        capabilities=[pb.Capability(name="python", proficiency=1.0)])))

    def requests():
        while (message := outgoing.get()) is not None:
            yield message

    done = 0
    key = os.environ.get("HIVE_API_KEY")
    for message in stub.Connect(requests(), metadata=[("x-api-key", key)] if key else None):
        kind = message.WhichOneof("msg")
        if kind == "registered":
            print("REGISTERED", message.registered.agent_id, flush=True)
        elif kind == "assigned":
            for task in message.assigned.tasks:
                resume = json.loads(task.resume_json or "null")
                if resume is None:
                    # First attempt: progress, then wait 50 ms holding no slot; the checkpoint comes back.
                    outgoing.put(pb.AgentMessage(progress=pb.TaskProgress(
                        task_id=task.id, percent=50, message="thinking", chunk="partial output")))
                    outgoing.put(pb.AgentMessage(result=pb.TaskResult(
                        task_id=task.id, wait=pb.WaitRequest(sleep_ms=50),
                        checkpoint_json=json.dumps({"step": 1}))))
                    continue
                checkpoint = json.loads(task.checkpoint_json or "null")
                output = {"echo": json.loads(task.payload_json), "by": "python",
                          "resumed": resume["reason"], "checkpoint": checkpoint}
                usage = {"tokens": float(len(task.title))}  # what a model call would report
                outgoing.put(pb.AgentMessage(result=pb.TaskResult(
                    task_id=task.id, success=True, output_json=json.dumps(output), usage=usage)))
                done += 1
            if 0 < max_tasks <= done:
                outgoing.put(None)  # results already queued go out first; then the stream ends
        elif kind == "rejected":
            print("REJECTED", message.rejected.code, message.rejected.message, file=sys.stderr, flush=True)
    print("DONE", done, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0)
