"""The seeds' Python server for MyService.Predict, as their tutorial gives it
(grpc.server with a ThreadPoolExecutor of 10 workers), for benchmarks against ours.

Changed only where it must be to run beside other servers: it listens on 127.0.0.1 and a
free port (argv[1], default 0) and prints `listening on ADDRESS` once started. Stubs come
from the seeds' my_service.proto with the seeds' own command (run in a temp directory).
"""

import subprocess
import sys
import tempfile
from concurrent import futures
from pathlib import Path

import grpc

HERE = Path(__file__).resolve().parent
stubs = tempfile.mkdtemp()
subprocess.run(
    [sys.executable, "-m", "grpc_tools.protoc", "-I.", f"--python_out={stubs}",
     f"--grpc_python_out={stubs}", "my_service.proto"],
    cwd=HERE / "protos",
    check=True,
)
sys.path.insert(0, stubs)

import my_service_pb2  # noqa: E402
import my_service_pb2_grpc  # noqa: E402


# The seeds' servicer, unchanged.
class MyService(my_service_pb2_grpc.MyServiceServicer):
    def Predict(self, request, context):
        print(f"Received prompt: {request.prompt}")
        return my_service_pb2.PredictResponse(result=f"Hello, {request.prompt}!")


def serve(port):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=10))
    my_service_pb2_grpc.add_MyServiceServicer_to_server(MyService(), server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print(f"listening on 127.0.0.1:{bound}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
