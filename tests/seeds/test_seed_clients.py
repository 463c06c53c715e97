"""The seeds' Python clients against our server.

Generates stubs from the seeds' protos with the seeds' own command, starts the server binary
($SERVER_BIN) on 127.0.0.1:0, and makes the calls the seeds make.
"""

import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent


def start_server():
    server = subprocess.Popen(
        [os.environ["SERVER_BIN"], "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in server.stdout:
        if line.startswith("listening on "):
            return server, line.split()[-1]
    server.kill()
    raise RuntimeError("the server exited before listening")


class SeedClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stubs = tempfile.TemporaryDirectory()
        subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", "-I.",
             f"--python_out={cls.stubs.name}", f"--grpc_python_out={cls.stubs.name}",
             "my_service.proto", "greeter.proto"],
            cwd=HERE / "protos",
            check=True,
        )
        sys.path.insert(0, cls.stubs.name)
        cls.server, cls.address = start_server()

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        try:
            cls.server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            cls.server.kill()
        cls.stubs.cleanup()

    def test_predict_as_in_the_tutorial(self):
        import grpc
        import my_service_pb2
        import my_service_pb2_grpc

        # Seed 001's run_client(), with the test server's address.
        channel = grpc.insecure_channel(self.address)
        stub = my_service_pb2_grpc.MyServiceStub(channel)
        response = stub.Predict(my_service_pb2.PredictRequest(prompt="World111"))
        self.assertEqual(response.result, "Hello, World111!")
        channel.close()

    def test_say_hello_from_the_stage_one_proto(self):
        import grpc
        import greeter_pb2
        import greeter_pb2_grpc

        with grpc.insecure_channel(self.address) as channel:
            stub = greeter_pb2_grpc.GreeterStub(channel)
            reply = stub.SayHello(greeter_pb2.HelloRequest(name="World"), timeout=5)
            self.assertEqual(reply.message, "Hello, World!")

    def test_errors_reach_the_python_client_as_grpc_status(self):
        import grpc
        import greeter_pb2
        import greeter_pb2_grpc

        with grpc.insecure_channel(self.address) as channel:
            stub = greeter_pb2_grpc.GreeterStub(channel)
            with self.assertRaises(grpc.RpcError) as raised:
                stub.SayHello(greeter_pb2.HelloRequest(name=""), timeout=5)
            self.assertEqual(raised.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertEqual(raised.exception.details(), "name: must not be empty")


if __name__ == "__main__":
    unittest.main(verbosity=2)
