"""Traceback lines as awslambdaric reports them -> X-Ray stack frames."""

import traceback

from emulator.tracing.documents import FunctionError, StackFrame, cause
from emulator.tracing.stack_frames import frames_from_traceback

CODE_DIR = "/home/dev/sam-app/.aws-sam/build/SamDdbFunction"


def test_frames_in_the_code_are_relative_to_it_and_others_keep_their_file_name():
    lines = traceback.format_list(
        [
            (f"{CODE_DIR}/app.py", 97, "lambda_handler", "item = put_item_ddb(key, cold_start)"),
            (f"{CODE_DIR}/lib/store.py", 12, "put", "table.put_item(Item=item)"),
            ("/opt/runtime/botocore/client.py", 1023, "_make_api_call", "raise error_class(...)"),
        ]
    )

    assert frames_from_traceback(lines, CODE_DIR) == [
        StackFrame("app.py", 97, "lambda_handler"),
        StackFrame("lib/store.py", 12, "put"),
        StackFrame("client.py", 1023, "_make_api_call"),
    ]


def test_a_folder_that_only_starts_like_the_code_folder_is_not_inside_it():
    lines = traceback.format_list([(f"{CODE_DIR}Other/app.py", 3, "handler", "")])

    assert frames_from_traceback(lines, CODE_DIR) == [StackFrame("app.py", 3, "handler")]


def test_lines_of_another_shape_are_skipped():
    assert frames_from_traceback(["Traceback (most recent call last):", "", "ValueError: x"], CODE_DIR) == []


def test_the_cause_lists_the_frames_as_the_segment_document_reference_has_them():
    error = FunctionError("DemoError", "went wrong", [StackFrame("app.py", 11, "handler")])

    assert cause(error, "0123456789abcdef") == {
        "working_directory": "/var/task",
        "exceptions": [
            {
                "id": "0123456789abcdef",
                "type": "DemoError",
                "message": "went wrong",
                "stack": [{"path": "app.py", "line": 11, "label": "handler"}],
            }
        ],
    }


def test_an_error_without_a_stack_has_no_stack_field():
    [exception] = cause(FunctionError("Sandbox.Timedout", "Task timed out"), "0123456789abcdef")["exceptions"]
    assert "stack" not in exception
