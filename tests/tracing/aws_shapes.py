"""Shape checks for the documents API Gateway, Lambda and a function's X-Ray SDK write, as
BatchGetTraces returns them: the same checks hold a recorded-AWS-shaped trace and the local
stack's own. Each check asserts and returns what the next one needs.

Sources, for every name and shape below:
- API Gateway developer guide, "Understanding AWS X-Ray traces for Amazon API Gateway APIs":
  the stage segment (`<API name>/<stage>`, aws.xray.sampling_rule_name, aws.api_gateway with
  account_id / rest_api_id / stage / request_id, metadata.default.extended_request_id,
  http.response.content_length) and its `Lambda` subsegment (namespace aws, operation Invoke,
  the API method as http.request.method, response content_length).
- Lambda developer guide, "Visualize Lambda function invocations using AWS X-Ray": the
  AWS::Lambda and AWS::Lambda::Function segments, Initialization / Invocation / Overhead, and
  "you can use the X-Ray SDK to extend the Invocation subsegment with additional subsegments".
- X-Ray developer guide, "X-Ray segment documents": error (client) vs fault (server), the
  cause object, and stackFrame's `path` (relative), `line`, `label`.
"""

from collections.abc import Iterator
from typing import Any

Document = dict[str, Any]
LAMBDA_TIMING = {"Initialization", "Invocation", "Overhead"}


def walk(entity: Document) -> Iterator[Document]:
    """The entity and every (nested) subsegment of it."""
    pending = [entity]
    while pending:
        current = pending.pop()
        yield current
        pending.extend(current.get("subsegments", []))


def one(documents: list[Document], origin: str) -> Document:
    found = [document for document in documents if document.get("origin") == origin]
    assert len(found) == 1, f"{len(found)} documents of origin {origin}"
    return found[0]


def check_stage_segment(documents: list[Document], *, api_name: str, stage: str) -> Document:
    """The API Gateway stage segment; returns its `Lambda` subsegment."""
    segment = one(documents, "AWS::ApiGateway::Stage")
    assert segment["name"] == f"{api_name}/{stage}"
    api_gateway = segment["aws"]["api_gateway"]
    assert set(api_gateway) == {"account_id", "rest_api_id", "stage", "request_id"}
    assert api_gateway["stage"] == stage
    assert segment["annotations"] == {"aws:api_id": api_gateway["rest_api_id"], "aws:api_stage": stage}
    assert segment["resource_arn"].endswith(f"::/restapis/{api_gateway['rest_api_id']}/stages/{stage}")
    assert isinstance(segment["aws"]["xray"]["sampling_rule_name"], str)
    metadata = segment["metadata"]["default"]
    assert metadata["request_id"] == api_gateway["request_id"]
    assert isinstance(metadata["extended_request_id"], str) and metadata["extended_request_id"]
    response = segment["http"]["response"]
    assert isinstance(response["content_length"], int) and response["content_length"] >= 0
    [call] = segment["subsegments"]
    assert (call["name"], call["namespace"], call["aws"]["operation"]) == ("Lambda", "aws", "Invoke")
    # The API method the client called, not the POST of Lambda's Invoke API.
    assert call["http"]["request"]["method"] == segment["http"]["request"]["method"]
    assert isinstance(call["http"]["response"]["content_length"], int)
    assert call["aws"]["resource_names"] == [call["aws"]["function_name"]]
    return call


def check_lambda_segments(documents: list[Document], lambda_call: Document) -> Document:
    """AWS::Lambda under API Gateway's call, AWS::Lambda::Function under it; returns the
    function segment's Invocation subsegment."""
    service = one(documents, "AWS::Lambda")
    function = one(documents, "AWS::Lambda::Function")
    assert service["parent_id"] == lambda_call["id"]
    assert service["name"] == function["name"] == lambda_call["aws"]["function_name"]
    assert isinstance(service["aws"]["request_id"], str)
    assert function["parent_id"] == service["id"]
    assert "resource_arn" not in function
    assert set(function["aws"]) == {"account_id", "function_arn", "resource_names"}
    assert function["aws"]["function_arn"] == service["resource_arn"]
    assert function["aws"]["function_arn"].split(":")[4] == function["aws"]["account_id"]
    assert function["aws"]["resource_names"] == [function["name"]]
    # Only Lambda's own subsegments sit at the top; the SDK's hang under Invocation.
    names = [sub["name"] for sub in function["subsegments"]]
    assert set(names) <= LAMBDA_TIMING and "Invocation" in names, names
    for sub in function["subsegments"]:
        assert sub["aws"] == {"function_arn": function["aws"]["function_arn"]}
    return next(sub for sub in function["subsegments"] if sub["name"] == "Invocation")


def check_sdk_subsegment(invocation: Document, name: str) -> Document:
    """The function code's own subsegment, a child of Invocation."""
    children = {sub["name"]: sub for sub in invocation.get("subsegments", [])}
    assert name in children, f"Invocation holds {sorted(children)}"
    return children[name]


def check_dynamodb_call(put_item: Document, table_name: str) -> Document:
    calls = [sub for sub in walk(put_item) if sub.get("namespace") == "aws"]
    [call] = [sub for sub in calls if "table_name" in sub.get("aws", {})]
    assert call["aws"]["operation"] == "PutItem"
    assert call["aws"]["table_name"] == table_name
    return call


def check_function_error(documents: list[Document], error_type: str, handler_label: str) -> Document:
    """An unhandled exception: the function segment is an error (not a fault) with the
    exception and its stack frames."""
    function = one(documents, "AWS::Lambda::Function")
    assert function.get("error") is True
    assert "fault" not in function
    [exception] = function["cause"]["exceptions"]
    assert exception["type"] == error_type
    assert isinstance(exception["message"], str) and exception["message"]
    assert len(exception["id"]) == 16
    frames = exception["stack"]
    assert frames, exception
    for frame in frames:
        assert set(frame) == {"path", "line", "label"}
        assert isinstance(frame["line"], int) and frame["line"] > 0
        assert not frame["path"].startswith("/"), frame  # relative to the function's code
        assert "File " not in frame["path"] and "\n" not in frame["label"], frame
    assert handler_label in {frame["label"] for frame in frames}
    # The Lambda service answered the Invoke: no error or fault of its own.
    service = one(documents, "AWS::Lambda")
    assert not service.get("error") and not service.get("fault")
    return exception
