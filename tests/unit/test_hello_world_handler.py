"""GET /hello (hello_world/app.py), called the SAM quick-start way."""

import json

from hello_world import app
from tests.unit.handler_support import load_event


def test_hello_answers_200_hello_world_as_json():
    response = app.lambda_handler(load_event("hello.json"), "")

    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    assert json.loads(response["body"]) == {"message": "hello world"}
